// A model test: random sequences of acquire, release, abort, timeout, creation failure, session death and
// shutdown against the real pool logic (fake driver), checking after every step the invariants the pool
// must never break, and after shutdown that nothing is left.
import fc from 'fast-check';
import { McpPool, type McpLease } from '../../lib';
import { FakeDriver, delay, tick } from '../support/fake-driver';

type Op =
  | { kind: 'acquire'; timeoutMs: number; abortable: boolean }
  | { kind: 'release'; pick: number }
  | { kind: 'abort'; pick: number }
  | { kind: 'failCreates'; n: number }
  | { kind: 'kill'; pick: number }
  | { kind: 'wait'; ms: number }
  | { kind: 'shutdown' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('acquire' as const), timeoutMs: fc.integer({ min: 1, max: 40 }), abortable: fc.boolean() }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('failCreates' as const), n: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('kill' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 15 }) }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'shutdown' as const }), weight: 1 },
);

interface Pending {
  settled: number;
  ac?: AbortController;
}

it('never lends a slot twice, never exceeds maxSessions, settles every acquire once, leaves nothing after shutdown', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 1, max: 3 }),
      fc.array(opArb, { minLength: 1, maxLength: 40 }),
      async (maxSessions, minRaw, maxConcurrent, ops) => {
        const driver = new FakeDriver();
        driver.createDelayMs = 1;
        const minSessions = Math.min(minRaw, maxSessions);
        const pool = new McpPool({
          name: 'model',
          driver,
          minSessions,
          maxSessions,
          maxConcurrentPerSession: maxConcurrent,
          maxWaiters: 20,
          healthCheckIntervalMs: 0,
          maxSessionLifetimeMs: 0,
          idleTimeoutMs: 0,
          retryBaseDelayMs: 1,
          retryMaxDelayMs: 4,
          failureThreshold: 4,
          recoveryTimeoutMs: 10,
          drainTimeoutMs: 20,
        });
        await pool.start();
        const held: McpLease[] = [];
        const pending: Pending[] = [];
        const all: Promise<unknown>[] = [];

        const check = () => {
          const perRecord = new Map<unknown, number>();
          for (const l of held) perRecord.set(l.record, (perRecord.get(l.record) ?? 0) + 1);
          for (const n of perRecord.values()) expect(n).toBeLessThanOrEqual(maxConcurrent);
          expect(driver.open).toBeLessThanOrEqual(maxSessions);
          expect(pool.metrics.snapshot().total).toBeLessThanOrEqual(maxSessions);
          for (const p of pending) expect(p.settled).toBeLessThanOrEqual(1);
        };

        let shutdown: Promise<void> | undefined;
        for (const op of ops) {
          switch (op.kind) {
            case 'acquire': {
              const p: Pending = { settled: 0, ac: op.abortable ? new AbortController() : undefined };
              pending.push(p);
              all.push(
                pool.acquire({ acquireTimeoutMs: op.timeoutMs, signal: p.ac?.signal }).then(
                  (lease) => {
                    p.settled++;
                    // Never lend a session that was evicted or closed.
                    expect(lease.record.state).not.toBe('dead');
                    held.push(lease);
                  },
                  () => {
                    p.settled++;
                  },
                ),
              );
              break;
            }
            case 'release':
              if (held.length) held.splice(op.pick % held.length, 1)[0]!.release();
              break;
            case 'abort': {
              const abortable = pending.filter((p) => p.ac && p.settled === 0);
              if (abortable.length) abortable[op.pick % abortable.length]!.ac!.abort();
              break;
            }
            case 'failCreates':
              driver.failNext += op.n;
              break;
            case 'kill': {
              const live = driver.live();
              if (live.length) live[op.pick % live.length]!.die();
              break;
            }
            case 'wait':
              await delay(op.ms);
              break;
            case 'shutdown':
              shutdown ??= pool.shutdown();
              break;
          }
          await tick();
          check();
        }

        // Every slot comes back: once all leases are released, nothing is in flight.
        await Promise.all(all);
        for (const l of held.splice(0)) l.release();
        if (!shutdown) {
          expect(pool.metrics.snapshot().inFlight).toBe(0);
        }
        await (shutdown ?? pool.shutdown());
        await Promise.all(all);
        for (const p of pending) expect(p.settled).toBe(1);
        const snap = pool.metrics.snapshot();
        expect(snap).toMatchObject({ total: 0, waiting: 0, creating: 0, inFlight: 0, state: 'closed' });
        expect(driver.open).toBe(0);
        expect(driver.inFlightCreates).toBe(0);
      },
    ),
    { numRuns: 60 },
  );
}, 120_000);

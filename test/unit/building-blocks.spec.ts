import { CircuitBreaker } from '../../lib/core/circuit-breaker';
import { LatencyHistogram } from '../../lib/core/histogram';
import { ListCache } from '../../lib/core/list-cache';
import { RetryBudget } from '../../lib/core/retry-budget';
import { SessionRecord, SlotIndex } from '../../lib/core/session-record';
import { WaiterQueue, type Waiter } from '../../lib/core/waiter-queue';
import type { DriverSession } from '../../lib/core/driver';
import type { PoolSlice } from '../../lib/core/pool-slice';

function waiter(label: string, log: string[]): Waiter<string> {
  return { resolve: () => undefined, reject: () => undefined, enqueuedAt: 0, queued: false, cleanup: () => log.push(`cleanup ${label}`) };
}

describe('WaiterQueue', () => {
  it('serves waiters in FIFO order', () => {
    const q = new WaiterQueue<string>();
    const log: string[] = [];
    const [a, b, c] = [waiter('a', log), waiter('b', log), waiter('c', log)];
    q.push(a);
    q.push(b);
    q.push(c);
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([a, b, c, undefined]);
    expect(q.size).toBe(0);
  });

  it('removes a waiter from the middle once, running its cleanup once', () => {
    const q = new WaiterQueue<string>();
    const log: string[] = [];
    const [a, b, c] = [waiter('a', log), waiter('b', log), waiter('c', log)];
    q.push(a);
    q.push(b);
    q.push(c);
    expect(q.remove(b)).toBe(true);
    expect(q.remove(b)).toBe(false);
    expect(log).toEqual(['cleanup b']);
    expect(q.drain()).toEqual([a, c]);
    expect(log).toEqual(['cleanup b', 'cleanup a', 'cleanup c']);
  });
});

describe('SlotIndex', () => {
  const session = {} as DriverSession;
  const slice = {} as PoolSlice; // the index never looks at the record's slice
  const rec = () => new SessionRecord(slice, session, 0, Infinity);

  it('picks the least-loaded session, most recently returned first among equals', () => {
    const idx = new SlotIndex(3);
    const [a, b, c] = [rec(), rec(), rec()];
    a.inFlight = 2;
    b.inFlight = 1;
    c.inFlight = 1;
    for (const r of [a, b, c]) idx.update(r);
    expect(idx.pick()).toBe(c);
    expect(idx.freeSlots).toBe(1 + 2 + 2);
    c.inFlight = 3; // full
    idx.update(c);
    expect(idx.pick()).toBe(b);
    expect(idx.freeSlots).toBe(3);
  });

  it('never offers a session that is not ready', () => {
    const idx = new SlotIndex(1);
    const a = rec();
    idx.update(a);
    a.state = 'probing';
    idx.update(a);
    expect(idx.pick()).toBeUndefined();
    expect(idx.freeSlots).toBe(0);
  });
});

describe('CircuitBreaker', () => {
  const opts = { failureThreshold: 3, recoveryInitialMs: 1000, recoveryTimeoutMs: 1000, retryBaseDelayMs: 100, retryMaxDelayMs: 250 };

  it('spaces attempts with capped exponential backoff and full jitter', () => {
    const cb = new CircuitBreaker({ ...opts, failureThreshold: 10 }, () => 1);
    cb.onFailure(new Error('x'), 0);
    expect(cb.nextAttemptAt).toBe(100);
    cb.onFailure(new Error('x'), 0);
    expect(cb.nextAttemptAt).toBe(200);
    cb.onFailure(new Error('x'), 0);
    expect(cb.nextAttemptAt).toBe(250); // capped
    const jittered = new CircuitBreaker(opts, () => 0.5);
    jittered.onFailure(new Error('x'), 0);
    expect(jittered.nextAttemptAt).toBe(50);
  });

  it('opens after failureThreshold failures, half-opens after recovery, reopens on a failed probe', () => {
    const cb = new CircuitBreaker(opts, () => 0);
    expect(cb.onFailure(new Error('1'), 0)).toBe(false);
    expect(cb.onFailure(new Error('2'), 0)).toBe(false);
    expect(cb.onFailure(new Error('3'), 10)).toBe(true);
    expect(cb.poll(500)).toBe('open');
    expect(cb.poll(1010)).toBe('half-open');
    expect(cb.onFailure(new Error('probe'), 1010)).toBe(true);
    expect(cb.poll(1500)).toBe('open');
    expect((cb.lastError as Error).message).toBe('probe');
    cb.onSuccess();
    expect(cb.poll(1500)).toBe('closed');
    expect(cb.failing).toBe(false);
  });
});

describe('CircuitBreaker open interval', () => {
  // Threshold 1: the first failure opens the circuit, so each test reads the open intervals alone.
  const opts = { failureThreshold: 1, recoveryInitialMs: 1000, recoveryTimeoutMs: 30_000, retryBaseDelayMs: 100, retryMaxDelayMs: 30_000 };
  /** random() = 0: no jitter, the intervals are exact. */
  const exact = () => 0;

  /** Fails the half-open probe at the moment the circuit lets it through; returns that moment. */
  function failProbe(cb: CircuitBreaker): number {
    const at = cb.openUntil;
    expect(cb.poll(at - 1)).toBe('open');
    expect(cb.poll(at)).toBe('half-open');
    expect(cb.onFailure(new Error('probe'), at)).toBe(true);
    return at;
  }

  it('opens for recoveryInitialMs first, not recoveryTimeoutMs', () => {
    const cb = new CircuitBreaker(opts, exact);
    expect(cb.onFailure(new Error('down'), 5000)).toBe(true);
    expect(cb.openUntil).toBe(6000);
    expect(cb.nextAttemptAt).toBe(6000);
    expect(cb.poll(5999)).toBe('open');
    expect(cb.poll(6000)).toBe('half-open');
  });

  it('doubles the open interval with each failed probe', () => {
    const cb = new CircuitBreaker(opts, exact);
    cb.onFailure(new Error('down'), 0);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const probedAt = failProbe(cb);
      waits.push(cb.openUntil - probedAt);
    }
    expect(waits).toEqual([2000, 4000, 8000, 16_000]);
  });

  it('caps the open interval at recoveryTimeoutMs', () => {
    const cb = new CircuitBreaker(opts, exact);
    cb.onFailure(new Error('down'), 0);
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const probedAt = failProbe(cb);
      waits.push(cb.openUntil - probedAt);
    }
    expect(waits).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
    expect(cb.openIntervalMs).toBe(30_000);
  });

  it('takes up to 20% off each interval at random, never adding to it', () => {
    const draws = [0.5, 1, 0.25];
    const cb = new CircuitBreaker({ ...opts, recoveryTimeoutMs: 2000 }, () => draws.shift() ?? 0);
    cb.onFailure(new Error('down'), 0);
    expect(cb.openUntil).toBe(900); // 1000 - 10%
    let probedAt = failProbe(cb);
    expect(cb.openUntil - probedAt).toBe(1600); // 2000 - 20%: the cap stays an upper bound
    probedAt = failProbe(cb);
    expect(cb.openUntil - probedAt).toBe(1900); // capped at 2000, then - 5%
  });

  it('starts over from recoveryInitialMs after a successful probe', () => {
    const cb = new CircuitBreaker(opts, exact);
    cb.onFailure(new Error('down'), 0);
    failProbe(cb);
    failProbe(cb);
    expect(cb.openIntervalMs).toBe(4000);
    expect(cb.poll(cb.openUntil)).toBe('half-open');
    cb.onSuccess();
    expect(cb.state).toBe('closed');
    expect(cb.openIntervalMs).toBe(1000);
    // The next outage opens for the short first wait again.
    cb.onFailure(new Error('down again'), 100_000);
    expect(cb.openUntil).toBe(101_000);
  });

  it('keeps the schedule when a creation started before the circuit opened fails while it is open', () => {
    const cb = new CircuitBreaker(opts, exact);
    cb.onFailure(new Error('first'), 0);
    expect(cb.onFailure(new Error('straggler'), 500)).toBe(false);
    expect(cb.openUntil).toBe(1000);
    expect(cb.openIntervalMs).toBe(1000);
    expect(cb.state).toBe('open');
    expect((cb.lastError as Error).message).toBe('straggler');
  });

  it('uses recoveryTimeoutMs as the only interval when it is below recoveryInitialMs', () => {
    const cb = new CircuitBreaker({ ...opts, recoveryTimeoutMs: 300 }, exact);
    cb.onFailure(new Error('down'), 0);
    expect(cb.openUntil).toBe(300);
    const probedAt = failProbe(cb);
    expect(cb.openUntil - probedAt).toBe(300);
  });
});

describe('ListCache', () => {
  const counters = () => ({ cacheHits: 0, cacheMisses: 0, cacheRefreshCount: 0, cacheWaiters: 0 });

  it('shares one fetch among concurrent misses and serves hits while fresh', async () => {
    const c = counters();
    const cache = new ListCache<number[]>(10_000, c);
    let fetches = 0;
    const fetch = async () => {
      fetches++;
      return [fetches];
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => cache.get(fetch)));
    expect(results.every((r) => r[0] === 1)).toBe(true);
    expect(await cache.get(fetch)).toEqual([1]);
    expect(fetches).toBe(1);
    expect(c).toEqual({ cacheHits: 1, cacheMisses: 5, cacheRefreshCount: 1, cacheWaiters: 4 });
  });

  it('lets an invalidation during a fetch win over that fetch', async () => {
    const cache = new ListCache<string>(10_000, counters());
    let release!: (v: string) => void;
    const first = cache.get(() => new Promise((r) => (release = r)));
    cache.invalidate();
    const second = cache.get(async () => 'fresh');
    release('stale');
    expect(await first).toBe('stale'); // its own callers still get an answer
    expect(await second).toBe('fresh');
    expect(await cache.get(async () => 'refetched')).toBe('fresh');
  });

  it('does not store results when the TTL is 0', async () => {
    const cache = new ListCache<number>(0, counters());
    let n = 0;
    await cache.get(async () => ++n);
    await cache.get(async () => ++n);
    expect(n).toBe(2);
  });
});

describe('LatencyHistogram', () => {
  it('reports percentiles within one bucket (19%) of the truth, with bounded memory', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i);
    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(s.p50).toBeGreaterThanOrEqual(500);
    expect(s.p50).toBeLessThanOrEqual(500 * 1.19);
    expect(s.p99).toBeGreaterThanOrEqual(990);
    expect(s.max).toBe(1000);
    expect(h.counts.length).toBeLessThan(200);
  });
});

describe('RetryBudget', () => {
  it('allows a minimum of retries plus a ratio of calls, then refuses', () => {
    const b = new RetryBudget(0.1, 2, 1000);
    for (let i = 0; i < 10; i++) b.recordCall(0);
    const granted = Array.from({ length: 10 }, () => b.tryRetry(0)).filter(Boolean).length;
    expect(granted).toBe(3); // 2 + 0.1 * 10
  });
});

describe('partition keys', () => {
  it('are an HMAC under a per-process key: not the bare SHA-256 of the identity a dictionary could reverse', () => {
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    const { partitionKeyOf } = require('../../lib/core/partitions') as typeof import('../../lib/core/partitions');
    const key = partitionKeyOf(['authorization'], { authorization: 'Bearer alice' })!;
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(partitionKeyOf(['authorization'], { authorization: 'Bearer alice' })).toBe(key); // stable in a process
    const bare = createHash('sha256').update('authorization\u0000Bearer alice').digest('hex').slice(0, 16);
    expect(key).not.toBe(bare);
  });
});

describe('the load helper’s "every call settles exactly once" checks can fail', () => {
  it('counts a call that never settles instead of hanging until the test times out', async () => {
    const { startLoad } = require('../support/load') as typeof import('../support/load');
    let n = 0;
    const load = startLoad(1, () => (n++ === 0 ? new Promise<never>(() => undefined) : Promise.resolve()));
    await new Promise((r) => setTimeout(r, 20));
    const report = await load.stop(50);
    expect(report.unsettled).toBe(1);
  });

  it('sees a lease that was never returned', async () => {
    const { expectLeasesBalanced } = require('../support/load') as typeof import('../support/load');
    const { FakeDriver } = require('../support/fake-driver') as typeof import('../support/fake-driver');
    const { McpPool } = require('../../lib') as typeof import('../../lib');
    const pool = new McpPool({ name: 'leak', driver: new FakeDriver(), minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0 });
    await pool.start();
    const lease = await pool.acquire();
    expect(() => expectLeasesBalanced(pool)).toThrow();
    lease.release();
    expect(() => expectLeasesBalanced(pool)).not.toThrow();
    await pool.shutdown();
  });
});

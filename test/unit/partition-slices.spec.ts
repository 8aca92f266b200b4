// Identity partitions are slices of one pool: what belongs to the endpoint (maxSessions, the circuit and
// backoff, the rate limiter, maxWaiters, the metrics) is shared by every partition, not copied into each.
import { McpPool, McpPoolConfigError, PoolExhaustedError, PoolUnavailableError, RateLimitedError, SessionCreateError, type McpPoolOptions } from '../../lib';
import { runWithMcpHeaders } from '../../lib/context/request-context';
import type { SessionEndReason } from '../../lib/core/events';
import { FakeDriver, FakeRefusal, delay, tick, type FakeSession } from '../support/fake-driver';

const quiet = { healthCheckIntervalMs: 0, maxSessionLifetimeMs: 0, idleTimeoutMs: 0, toolCacheTtlMs: 0 };

const pools: McpPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.shutdown()));
});
function makePool(driver: FakeDriver, options: Partial<McpPoolOptions>): McpPool {
  const pool = new McpPool({ name: 'slices', driver, minSessions: 0, partitionBy: ['authorization'], ...quiet, ...options });
  pools.push(pool);
  return pool;
}
const as = (who: string) => ({ headers: { authorization: `Bearer ${who}` } });

/** Calls of a tool named `gate:…` wait until `open(name)`; every other call answers at once. */
function gated(d: FakeDriver): (name: string) => void {
  const gates = new Map<string, () => void>();
  d.onRequest = async (_s, method, params) => {
    const name = method === 'tools/call' ? (params as { name: string }).name : '';
    if (name.startsWith('gate:')) await new Promise<void>((resolve) => gates.set(name, resolve));
    return { content: [] };
  };
  return (name) => gates.get(name)!();
}
const rebalances = (pool: McpPool) => {
  const seen: SessionEndReason[] = [];
  pool.events.on('sessionDestroyed', (e) => void (e.reason === 'rebalance' && seen.push(e.reason)));
  return seen;
};

describe('identity partitions share the endpoint', () => {
  it('maxSessions caps every partition together: five identities on a pool of 3 are all served, never more than 3 sessions held', async () => {
    const d = new FakeDriver();
    d.onRequest = async () => {
      await delay(5);
      return { content: [] };
    };
    const pool = makePool(d, { maxSessions: 3, maxSessionsPerPartition: 2, acquireTimeoutMs: 5000 });
    const ended: SessionEndReason[] = [];
    pool.events.on('sessionDestroyed', (e) => void ended.push(e.reason));
    await pool.start();
    const users = ['a', 'b', 'c', 'd', 'e'];
    const results = await Promise.allSettled(users.flatMap((u) => [1, 2, 3, 4].map(() => pool.callTool('t', {}, as(u)))));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(d.maxHeld).toBeLessThanOrEqual(3);
    // Room for the later identities came from the idle sessions of the earlier ones.
    expect(ended).toContain('rebalance');
    expect(pool.metrics.snapshot()).toMatchObject({ calls: 20, partitions: 5 });
  });

  it('one circuit for the endpoint: once creations have failed, a new identity is refused at once instead of trying again', async () => {
    const d = new FakeDriver();
    d.down = true;
    const pool = makePool(d, { maxSessions: 4, failureThreshold: 2, retryBaseDelayMs: 1, retryMaxDelayMs: 2, acquireTimeoutMs: 2000 });
    await pool.start();
    await expect(pool.callTool('t', {}, as('a'))).rejects.toThrow(PoolUnavailableError);
    expect(pool.circuitState).toBe('open');
    const attempts = d.attempts;
    await expect(pool.callTool('t', {}, as('b'))).rejects.toThrow(PoolUnavailableError);
    expect(d.attempts).toBe(attempts);
  });

  it('one rate limiter for the endpoint: another identity does not get a budget of its own', async () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    const pool = makePool(d, { maxSessions: 4, rateLimit: { requestsPerSecond: 1, burst: 1 }, acquireTimeoutMs: 200 });
    await pool.start();
    await pool.callTool('t', {}, as('a'));
    const refused = await pool.callTool('t', {}, as('b')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect(String((refused as Error).message)).toMatch(/rateLimit would hold/);
  });

  it('one maxWaiters for the endpoint: a queue that is full for one identity is full for all', async () => {
    const d = new FakeDriver();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    d.onRequest = async () => {
      await gate;
      return { content: [] };
    };
    const pool = makePool(d, { maxSessions: 4, maxSessionsPerPartition: 1, maxWaiters: 1 });
    await pool.start();
    const first = pool.callTool('t', {}, as('a'));
    await tick();
    const queued = pool.callTool('t', {}, as('a')); // waits for a's only session
    await tick();
    await expect(pool.callTool('t', {}, as('b'))).rejects.toThrow(PoolExhaustedError);
    open();
    await Promise.all([first, queued]);
  });

  it("keeps the counters of a partition pushed out of the table (the pool's counters never go backwards)", async () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    const pool = makePool(d, { maxSessions: 4, maxPartitions: 1 });
    await pool.start();
    await pool.callTool('t', {}, as('a'));
    await pool.callTool('t', {}, as('b')); // pushes a's partition out
    await tick();
    expect(pool.metrics.snapshot()).toMatchObject({ calls: 2, sessionsCreated: 2, sessionsDestroyed: 1, partitions: 1 });
    expect(d.live()).toHaveLength(1);
  });

  it("gives the driver each partition's identity for every session it creates, and none for the shared sessions", async () => {
    const d = new FakeDriver();
    const seen = new Map<FakeSession, string>();
    d.onRequest = async (session, _method, params) => {
      seen.set(session, (params as { name: string }).name);
      return { content: [] };
    };
    const pool = makePool(d, { maxSessions: 4 });
    await pool.start();
    await pool.callTool('shared', {});
    await pool.callTool('for-a', {}, as('a'));
    await pool.callTool('for-b', {}, as('b'));
    const identities = Object.fromEntries([...seen].map(([s, name]) => [name, s.identity]));
    expect(identities).toEqual({ shared: undefined, 'for-a': { authorization: 'Bearer a' }, 'for-b': { authorization: 'Bearer b' } });
  });
});

describe('where partitions meet the other parts', () => {
  it('a call waiting in the rate limiter keeps its partition: another identity cannot push it out from under the call', async () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    const pool = makePool(d, { maxSessions: 4, maxPartitions: 1, rateLimit: { requestsPerSecond: 10, burst: 1 }, acquireTimeoutMs: 0 });
    await pool.start();
    await pool.callTool('t', {}, as('a'));
    const again = pool.callTool('t', {}, as('a')).then(() => 'ok', (e: Error) => e.name); // ~100 ms in the limiter
    await tick();
    await expect(pool.callTool('t', {}, as('b'))).rejects.toThrow(/identity partitions are busy/);
    expect(await again).toBe('ok');
    expect(pool.metrics.snapshot().waiting).toBe(0);
  });

  it("a call retrying after the server's 429 keeps its partition until the retry is done", async () => {
    const d = new FakeDriver();
    let first = true;
    d.onRequest = async () => {
      if (first) {
        first = false;
        throw new FakeRefusal({ kind: 'rate-limited', retryAfterMs: 50 }); // the server's 429: the pool pauses, then retries
      }
      return { content: [] };
    };
    const pool = makePool(d, { maxSessions: 4, maxPartitions: 1, rateLimit: { requestsPerSecond: 1000, burst: 10 }, acquireTimeoutMs: 0 });
    await pool.start();
    const retried = pool.callTool('t', {}, as('a')).then(() => 'ok', (e: Error) => e.name);
    await delay(10); // a is in the pause between its 429 and the retry
    await expect(pool.callTool('t', {}, as('b'))).rejects.toThrow(/identity partitions are busy/);
    expect(await retried).toBe('ok');
  });

  it('rebalances only for an identity with no session at all: two busy identities on a full pool do not close each other\'s sessions', async () => {
    const d = new FakeDriver();
    d.onRequest = async () => {
      await delay(2);
      return { content: [] };
    };
    d.createDelayMs = 5;
    const pool = makePool(d, { maxSessions: 3, maxSessionsPerPartition: 2, acquireTimeoutMs: 5000 });
    const seen = rebalances(pool);
    await pool.start();
    const worker = async (who: string) => {
      for (let i = 0; i < 40; i++) await pool.callTool('t', {}, as(who));
    };
    await Promise.all([worker('a'), worker('a'), worker('b'), worker('b')]);
    expect(seen.length).toBeLessThanOrEqual(1);
    expect(pool.metrics.snapshot().sessionsCreated).toBeLessThanOrEqual(4);
  });

  it('closes no session for a wait that is already over (served by its own session, or timed out)', async () => {
    const d = new FakeDriver();
    const open = gated(d);
    const pool = makePool(d, { maxSessions: 1, maxSessionsPerPartition: 1 });
    const seen = rebalances(pool);
    await pool.start();
    const a1 = pool.callTool('gate:a1', {}, as('a'));
    await tick();
    await expect(pool.callTool('t', {}, { ...as('b'), acquireTimeoutMs: 20 })).rejects.toThrow(/acquire/i); // b waited for room, gave up
    open('gate:a1');
    await a1;
    await tick();
    expect(seen).toEqual([]);
    expect(d.live()).toHaveLength(1);
  });

  it('keeps minSessions for the shared sessions: a partition does not take their room, and raising minSessions takes it back', async () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    const pool = makePool(d, { minSessions: 1, maxSessions: 3 });
    await pool.start();
    await pool.callTool('t', {}, as('a'));
    await pool.callTool('t', {}, as('b')); // the pool is full: shared 1, a 1, b 1
    pool.resize({ minSessions: 2 });
    await pool.waitReady({ timeoutMs: 1000 });
    expect(pool.isReady).toBe(true);
    expect(pool.metrics.snapshot().total).toBeLessThanOrEqual(3);
    // With minSessions equal to maxSessions no identity could ever have a session: refused up front.
    expect(() => new McpPool({ name: 'x', driver: d, partitionBy: ['authorization'], minSessions: 2, maxSessions: 2 })).toThrow(McpPoolConfigError);
    expect(() => pool.resize({ maxSessions: 2 })).toThrow(/maxSessions must be > minSessions with partitionBy/);
  });

  it('health pings an idle session of any identity instead of making room for a shared one', async () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    const pool = makePool(d, { maxSessions: 1, acquireTimeoutMs: 1000 });
    const seen = rebalances(pool);
    await pool.start();
    await pool.callTool('t', {}, as('a'));
    for (let i = 0; i < 3; i++) {
      expect((await pool.checkHealth()).status).toBe('up');
      await pool.callTool('t', {}, as('a'));
    }
    expect(seen).toEqual([]);
    expect(pool.metrics.snapshot().sessionsCreated).toBe(1);
  });

  it("an identity the server refuses (an error status on its initialize) is that identity's failure: no circuit, no backoff for the others, no failFast shutdown", async () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    d.refuse = (identity) => (identity?.authorization === 'Bearer evil' ? { kind: 'call', status: 500 } : undefined);
    d.createDelayMs = 10;
    const pool = makePool(d, { minSessions: 1, maxSessions: 6, failFast: true, failureThreshold: 2, retryBaseDelayMs: 1, retryMaxDelayMs: 2, acquireTimeoutMs: 500 });
    const started = pool.start();
    const during = pool.callTool('t', {}, as('evil')).catch((e: unknown) => e); // arrives during the warm-up
    await started;
    expect(await during).toBeInstanceOf(SessionCreateError);
    for (let i = 0; i < 3; i++) await expect(pool.callTool('t', {}, as('evil'))).rejects.toThrow(SessionCreateError);
    expect(pool.circuitState).toBe('closed');
    await expect(pool.callTool('t', {}, as('good'))).resolves.toBeDefined();
    await expect(pool.callTool('t', {})).resolves.toBeDefined();
  });

  it("another identity's refused credentials are not the shared callers' cause", async () => {
    const d = new FakeDriver();
    const open = gated(d);
    d.refuse = (identity) => (identity?.authorization === 'Bearer bad' ? { kind: 'auth', status: 401 } : undefined);
    const pool = makePool(d, { maxSessions: 2, acquireTimeoutMs: 100 });
    await pool.start();
    const held = pool.callTool('gate:s', {}); // the shared sessions' only one, busy
    await tick();
    await expect(pool.callTool('t', {}, as('bad'))).rejects.toThrow(/401/);
    d.createDelayMs = 200;
    const shared = (await pool.acquire({ acquireTimeoutMs: 50 }).catch((e: unknown) => e)) as Error;
    open('gate:s');
    await held;
    expect(shared.message).not.toMatch(/401|credentials/);
    expect(pool.lastCreateError).toBeUndefined();
  });

  it("closes a session whose creation failed after connecting outside the caller's context", async () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    const pool = makePool(d, {
      partitionBy: undefined,
      maxSessions: 2,
      acquireTimeoutMs: 200,
      onSessionReady: async () => {
        throw new Error('warm-up failed');
      },
    });
    await pool.start();
    await runWithMcpHeaders({ 'x-request-id': 'caller-1', cookie: 'sid=caller-1' }, () => pool.callTool('t', {}).catch(() => undefined));
    expect(d.closeContexts.length).toBeGreaterThan(0);
    expect(d.closeContexts.filter((h) => h !== undefined)).toEqual([]);
  });
});

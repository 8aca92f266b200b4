// Identity partitions are slices of one pool: what belongs to the endpoint (maxSessions, the circuit and
// backoff, the rate limiter, maxWaiters, the metrics) is shared by every partition, not copied into each.
import { McpPool, PoolExhaustedError, PoolUnavailableError, RateLimitedError, type McpPoolOptions } from '../../lib';
import type { SessionEndReason } from '../../lib/core/events';
import { FakeDriver, delay, tick, type FakeSession } from '../support/fake-driver';

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

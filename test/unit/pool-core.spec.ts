import { RateLimiter } from '../../lib/core/rate-limiter';
import {
  AcquireTimeoutError,
  CallTimeoutError,
  McpPool,
  McpPoolConfigError,
  McpPoolGroup,
  OperationAbortedError,
  PoolClosedError,
  RateLimitedError,
  PoolExhaustedError,
  PoolUnavailableError,
  SessionCreateError,
  SessionLostError,
  type McpPoolOptions,
} from '../../lib';
import { ServerQuestionRefusedError } from '../../lib/core/server-questions';
import { FakeDriver, FakeRefusal, delay, tick } from '../support/fake-driver';
import { watchListenerWarnings } from '../support/listener-warnings';

const quiet = { healthCheckIntervalMs: 0, maxSessionLifetimeMs: 0, idleTimeoutMs: 0, toolCacheTtlMs: 0 };

function makePool(driver: FakeDriver, options: Partial<McpPoolOptions> = {}): McpPool {
  return new McpPool({ name: 'unit', driver, minSessions: 0, maxSessions: 2, ...quiet, ...options });
}

const pools: McpPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.shutdown()));
});
function track(p: McpPool): McpPool {
  pools.push(p);
  return p;
}

describe('McpPool with a fake driver', () => {
  it('warms minSessions on start', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 2, maxSessions: 4 }));
    await pool.start();
    expect(d.open).toBe(2);
    expect(pool.metrics.snapshot()).toMatchObject({ total: 2, idle: 2, sessionsCreated: 2, state: 'running' });
  });

  it('refuses to lend before start() and after shutdown()', async () => {
    const pool = track(makePool(new FakeDriver()));
    await expect(pool.acquire()).rejects.toThrow(PoolClosedError);
    await pool.start();
    await pool.shutdown();
    await expect(pool.acquire()).rejects.toThrow(/closed/);
  });

  it('serves waiters in FIFO order as slots come back', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { maxSessions: 1 }));
    await pool.start();
    const first = await pool.acquire();
    const order: number[] = [];
    const waiting = [1, 2, 3].map((i) =>
      pool.acquire().then((l) => {
        order.push(i);
        l.release();
      }),
    );
    await tick();
    expect(pool.metrics.snapshot().waiting).toBe(3);
    first.release();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    expect(d.sessions.length).toBe(1);
  });

  it('rejects a waiter at its deadline with the pool state in the message', async () => {
    const pool = track(makePool(new FakeDriver(), { maxSessions: 1 }));
    await pool.start();
    const held = await pool.acquire();
    const err = await pool.acquire({ acquireTimeoutMs: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AcquireTimeoutError);
    expect((err as AcquireTimeoutError).message).toMatch(/mcp pool "unit": no session slot within 30 ms \(total=1 idle=0 inFlight=1 waiting=0/);
    expect(pool.metrics.snapshot()).toMatchObject({ waiting: 0, acquireTimeouts: 1 });
    held.release();
  });

  it('rejects a waiter whose signal aborts, and gives the slot to the next', async () => {
    const pool = track(makePool(new FakeDriver(), { maxSessions: 1 }));
    await pool.start();
    const held = await pool.acquire();
    const ac = new AbortController();
    const aborted = pool.acquire({ signal: ac.signal });
    const next = pool.acquire();
    ac.abort(new Error('user left'));
    await expect(aborted).rejects.toThrow(OperationAbortedError);
    held.release();
    const lease = await next;
    expect(lease.record).toBe(held.record);
    lease.release();
  });

  it('rejects at once when maxWaiters callers already wait', async () => {
    const pool = track(makePool(new FakeDriver(), { maxSessions: 1, maxWaiters: 2 }));
    await pool.start();
    const held = await pool.acquire();
    const w1 = pool.acquire();
    const w2 = pool.acquire();
    const err = await pool.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PoolExhaustedError);
    expect((err as PoolExhaustedError).reason).toBe('queue-full');
    held.release();
    (await w1).release();
    (await w2).release();
  });

  it('creates sessions lazily up to maxSessions and no further', async () => {
    const d = new FakeDriver();
    d.createDelayMs = 5;
    const pool = track(makePool(d, { maxSessions: 3 }));
    await pool.start();
    expect(d.open).toBe(0);
    const leases = await Promise.all(Array.from({ length: 3 }, () => pool.acquire()));
    const fourth = pool.acquire({ acquireTimeoutMs: 50 });
    await expect(fourth).rejects.toThrow(AcquireTimeoutError);
    expect(d.attempts).toBe(3);
    leases.forEach((l) => l.release());
  });

  it('does not open a session per caller in a spike: creations match unmet demand only', async () => {
    const d = new FakeDriver();
    d.createDelayMs = 10;
    const pool = track(makePool(d, { maxSessions: 10, maxConcurrentPerSession: 8 }));
    await pool.start();
    const leases = await Promise.all(Array.from({ length: 20 }, () => pool.acquire()));
    expect(d.attempts).toBe(3); // ceil(20 / 8): one first (slow start), then two
    expect(new Set(leases.map((l) => l.record)).size).toBe(3);
    leases.forEach((l) => l.release());
  });

  it('shares a session among leases up to maxConcurrentPerSession, least loaded first', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 2, maxSessions: 2, maxConcurrentPerSession: 2 }));
    await pool.start();
    const leases = await Promise.all(Array.from({ length: 4 }, () => pool.acquire()));
    const perSession = new Map<unknown, number>();
    for (const l of leases) perSession.set(l.record, (perSession.get(l.record) ?? 0) + 1);
    expect([...perSession.values()]).toEqual([2, 2]);
    expect(pool.tryAcquire()).toBeNull();
    leases.forEach((l) => l.release());
  });

  it('evicts a session that dies, never lends it again, and replaces it', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 1 }));
    await pool.start();
    const dead = d.sessions[0]!;
    dead.die();
    expect(dead.closed).toBe(true);
    const lease = await pool.acquire();
    expect(lease.record.session).not.toBe(dead);
    expect(pool.metrics.snapshot()).toMatchObject({ sessionsCreated: 2, sessionsDestroyed: 1, reconnectCount: 1 });
    lease.release();
  });

  it('releases a lease exactly once, however often release() is called', async () => {
    const pool = track(makePool(new FakeDriver(), { maxSessions: 1 }));
    await pool.start();
    const lease = await pool.acquire();
    lease.release();
    lease.release();
    await lease[Symbol.asyncDispose]();
    expect(pool.metrics.snapshot()).toMatchObject({ inFlight: 0, borrowCount: 1, returnCount: 1 });
  });

  it('returns the lease of session() even when the callback throws', async () => {
    const pool = track(makePool(new FakeDriver(), { maxSessions: 1 }));
    await pool.start();
    await expect(pool.session(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(pool.metrics.snapshot().inFlight).toBe(0);
  });

  it('serialises creation attempts while the endpoint fails, however many callers wait', async () => {
    const d = new FakeDriver();
    d.down = true;
    d.createDelayMs = 2;
    const pool = track(
      makePool(d, { maxSessions: 10, failureThreshold: 1000, retryBaseDelayMs: 5, retryMaxDelayMs: 20, acquireTimeoutMs: 200 }),
    );
    await pool.start();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => pool.acquire()));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof AcquireTimeoutError)).toBe(true);
    expect(d.maxInFlightCreates).toBe(1);
    // 200 ms with backoff capped at 20 ms: a few dozen attempts at most, not 50 callers' worth each.
    expect(d.attempts).toBeLessThan(40);
    const reason = (results[0] as PromiseRejectedResult).reason as AcquireTimeoutError;
    expect((reason.cause as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('opens the circuit after failureThreshold failures, rejects fast, then recovers through one probe', async () => {
    const d = new FakeDriver();
    d.down = true;
    const pool = track(
      makePool(d, { minSessions: 1, maxSessions: 4, failureThreshold: 3, retryBaseDelayMs: 1, retryMaxDelayMs: 2, recoveryTimeoutMs: 100 }),
    );
    await pool.start();
    const waiter = pool.acquire({ acquireTimeoutMs: 5000 });
    const err = await waiter.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PoolUnavailableError);
    expect(((err as PoolUnavailableError).cause as Error).message).toMatch(/ECONNREFUSED/);
    expect(d.attempts).toBe(3);
    expect(pool.circuitState).toBe('open');
    // Rejected at once: before the next turn of the event loop, and without a creation attempt.
    await expect(Promise.race([pool.acquire(), tick().then(() => 'still pending')])).rejects.toThrow(PoolUnavailableError);
    expect(d.attempts).toBe(3);
    d.down = false;
    await delay(120);
    const lease = await pool.acquire();
    expect(pool.circuitState).toBe('closed');
    expect(d.attempts).toBeGreaterThanOrEqual(4);
    lease.release();
  });

  it('lets exactly one probe creation through while half-open, however many callers wait; a failed probe doubles the wait', async () => {
    const d = new FakeDriver();
    d.down = true;
    d.createDelayMs = 30;
    const pool = track(makePool(d, { maxSessions: 4, failureThreshold: 1, recoveryInitialMs: 50, recoveryTimeoutMs: 1000 }));
    await pool.start();
    const opened = await pool.acquire().catch((e: unknown) => e);
    expect(opened).toBeInstanceOf(PoolUnavailableError);
    expect((opened as PoolUnavailableError).retryInMs).toBeLessThanOrEqual(50);
    expect(d.attempts).toBe(1);
    await delay(60);
    // The first caller finds the circuit half-open and starts the probe; the other nine wait for it.
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => pool.acquire({ acquireTimeoutMs: 5000 })));
    expect(d.attempts).toBe(2);
    expect(d.maxInFlightCreates).toBe(1);
    const reasons = results.map((r) => (r.status === 'rejected' ? r.reason : r.value));
    expect(reasons.every((r) => r instanceof PoolUnavailableError)).toBe(true);
    // Reopened for twice the first interval, less up to 20% of jitter.
    const retryIn = (reasons[0] as PoolUnavailableError).retryInMs;
    expect(retryIn).toBeGreaterThan(50);
    expect(retryIn).toBeLessThanOrEqual(100);
  });

  it('fails start() with a SessionCreateError when failFast is set and warm-up fails', async () => {
    const d = new FakeDriver();
    d.down = true;
    const pool = track(makePool(d, { minSessions: 1, failFast: true }));
    await expect(pool.start()).rejects.toThrow(SessionCreateError);
    expect(pool.state).toBe('closed');
  });

  it('keeps running and retrying after a failed warm-up without failFast', async () => {
    const d = new FakeDriver();
    d.failNext = 1;
    const pool = track(makePool(d, { minSessions: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 2 }));
    await pool.start();
    expect(pool.state).toBe('running');
    const lease = await pool.acquire();
    expect(d.attempts).toBe(2);
    lease.release();
  });

  it('on shutdown rejects waiters, lets leases finish, then closes every session', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 1 }));
    await pool.start();
    const held = await pool.acquire();
    const waiter = pool.acquire();
    const closing = pool.shutdown();
    await expect(waiter).rejects.toThrow(PoolClosedError);
    await expect(pool.acquire()).rejects.toThrow(/draining/);
    await tick();
    expect(d.open).toBe(1); // still serving the lease
    held.release();
    await closing;
    expect(d.open).toBe(0);
    expect(pool.metrics.snapshot()).toMatchObject({ total: 0, waiting: 0, creating: 0, state: 'closed' });
  });

  it('closes sessions when the drain deadline passes with leases still out', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 1, drainTimeoutMs: 30 }));
    await pool.start();
    const held = await pool.acquire();
    const t0 = Date.now();
    await pool.shutdown();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(d.open).toBe(0);
    held.release(); // late release is harmless
  });

  it('retires a session past its lifetime when it comes back, never mid-lease', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 1, maxSessionLifetimeMs: 40 }));
    await pool.start();
    const lease = await pool.acquire();
    await delay(80);
    expect(d.sessions[0]!.closed).toBe(false); // held: not retired under the caller
    lease.release();
    expect(d.sessions[0]!.closed).toBe(true);
    const next = await pool.acquire();
    expect(next.record.session).toBe(d.sessions[1]);
    expect(pool.metrics.snapshot().recycledCount).toBeGreaterThanOrEqual(1);
    next.release();
  });

  it('shrinks idle sessions back to minSessions', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 3, idleTimeoutMs: 40 }));
    await pool.start();
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    leases.forEach((l) => l.release());
    expect(d.open).toBe(3);
    await delay(150);
    expect(d.open).toBe(1);
  });

  it('evicts an idle session whose health ping fails and replaces it', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 20 }));
    await pool.start();
    d.pingFails = true;
    await delay(100);
    expect(d.sessions[0]!.closed).toBe(true);
    d.pingFails = false;
    await delay(50);
    expect(pool.metrics.snapshot().healthCheckFailures).toBeGreaterThanOrEqual(1);
    const lease = await pool.acquire();
    expect(lease.record.session.remoteId).not.toBe('fake-0');
    lease.release();
  });

  it('tryAcquire never waits', async () => {
    const pool = track(makePool(new FakeDriver(), { maxSessions: 1, minSessions: 1 }));
    await pool.start();
    const lease = pool.tryAcquire();
    expect(lease).not.toBeNull();
    expect(pool.tryAcquire()).toBeNull();
    lease!.release();
  });
});

describe('pool options', () => {
  const bad = (o: McpPoolOptions) => {
    try {
      new McpPool(o);
    } catch (e) {
      return e as McpPoolConfigError;
    }
    throw new Error('expected a config error');
  };

  it('names the pool and every bad field', () => {
    const e = bad({ name: 'github', endpoint: 'http://x/mcp', minSessions: 5, maxSessions: 2, acquireTimeoutMs: -1 });
    expect(e).toBeInstanceOf(McpPoolConfigError);
    expect(e.message).toBe('mcp pool "github": acquireTimeoutMs must be an integer >= 0; maxSessions must be >= minSessions');
    expect(e.issues.map((i) => i.field)).toEqual(['acquireTimeoutMs', 'maxSessions']);
  });

  it('requires a parseable endpoint for HTTP and a command for stdio', () => {
    expect(bad({}).field).toBe('endpoint');
    expect(bad({ endpoint: 'not a url' }).message).toMatch(/endpoint is not a valid URL/);
    expect(bad({ transport: 'stdio' }).field).toBe('command');
  });

  it('refuses headers on a stdio pool instead of dropping them', () => {
    expect(bad({ transport: 'stdio', command: 'node', headers: { 'x-a': '1' } }).field).toBe('headers');
  });

  it('refuses protocol headers and CR/LF in values without echoing the value', () => {
    const e = bad({ endpoint: 'http://x/mcp', headers: { 'mcp-session-id': 'a', 'x-b': 'secret\r\nInjected: 1' } });
    expect(e.message).toMatch(/mcp-session-id is a protocol header/);
    expect(e.message).toMatch(/headers.x-b must not contain CR, LF or NUL/);
    expect(e.message).not.toMatch(/secret/);
  });

  it('checks recoveryInitialMs by name: an integer >= 1, at most 2^31-1, and <= recoveryTimeoutMs', () => {
    const base = { name: 'circuit', endpoint: 'http://x/mcp' };
    expect(bad({ ...base, recoveryInitialMs: 0 }).message).toBe('mcp pool "circuit": recoveryInitialMs must be an integer >= 1');
    expect(bad({ ...base, recoveryInitialMs: 1.5 }).field).toBe('recoveryInitialMs');
    expect(bad({ ...base, recoveryInitialMs: 3e9, recoveryTimeoutMs: 2_147_483_647 }).message).toMatch(/recoveryInitialMs must be at most 2147483647/);
    expect(bad({ ...base, recoveryInitialMs: 5000, recoveryTimeoutMs: 2000 }).message).toBe('mcp pool "circuit": recoveryInitialMs must be <= recoveryTimeoutMs');
    expect(bad({ ...base, recoveryInitialMs: 40_000 }).message).toMatch(/recoveryInitialMs must be <= recoveryTimeoutMs/); // default cap 30000
  });

  it('defaults recoveryInitialMs to 1000, or to a smaller recoveryTimeoutMs given alone', () => {
    expect(new McpPool({ endpoint: 'http://x/mcp' }).options).toMatchObject({ recoveryInitialMs: 1000, recoveryTimeoutMs: 30_000 });
    expect(new McpPool({ endpoint: 'http://x/mcp', recoveryTimeoutMs: 300 }).options).toMatchObject({ recoveryInitialMs: 300, recoveryTimeoutMs: 300 });
    expect(new McpPool({ endpoint: 'http://x/mcp', recoveryTimeoutMs: 0 }).options.recoveryInitialMs).toBe(0);
    expect(new McpPool({ endpoint: 'http://x/mcp', recoveryInitialMs: 250 }).options.recoveryInitialMs).toBe(250);
  });

  it('accepts a stdio command line as endpoint', () => {
    const pool = new McpPool({ transport: 'stdio', endpoint: 'node "my server.js" --flag' });
    expect(pool.options.command).toBe('node');
    expect(pool.options.args).toEqual(['my server.js', '--flag']);
  });
});

describe('defects at the seams of the old core (each failed before the redesign)', () => {
  it('rejects, never throws synchronously, when every identity partition is busy', async () => {
    const d = new FakeDriver();
    d.onRequest = async () => {
      await delay(100);
      return { content: [] };
    };
    const pool = track(makePool(d, { partitionBy: ['authorization'], maxPartitions: 1 }));
    await pool.start();
    const busy = pool.callTool('slow', {}, { headers: { authorization: 'Bearer a' } });
    await tick();
    const calls: Array<() => Promise<unknown>> = [
      () => pool.callTool('x', {}, { headers: { authorization: 'Bearer b' } }),
      () => pool.listTools({ headers: { authorization: 'Bearer b' } }),
      () => pool.listPrompts({ headers: { authorization: 'Bearer b' } }),
      () => pool.listResources({ headers: { authorization: 'Bearer b' } }),
      () => pool.ping({ headers: { authorization: 'Bearer b' } }),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      expect(() => (promise = call())).not.toThrow();
      await expect(promise).rejects.toThrow(/identity partitions are busy/);
    }
    await busy;
  });

  it.each(['acquireTimeoutMs', 'callTimeoutMs', 'connectTimeoutMs', 'maxSessionLifetimeMs', 'drainTimeoutMs', 'maxWaiters'])(
    'refuses %s above 2^31-1 (Node would turn it into a 1 ms timer), naming the field',
    (field) => {
      let error: unknown;
      try {
        new McpPool({ name: 'big', driver: new FakeDriver(), [field]: 3e9 });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(McpPoolConfigError);
      expect((error as McpPoolConfigError).field).toBe(field);
      expect((error as Error).message).toMatch(/at most 2147483647/);
    },
  );

  it('accepts 2^31-1 itself', () => {
    expect(() => new McpPool({ name: 'edge', driver: new FakeDriver(), acquireTimeoutMs: 2_147_483_647 })).not.toThrow();
  });

  it('tryAcquire on a draining pool leaves no tenant slot counted', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 1, tenantLimit: { maxConcurrentPerTenant: 1, tenantFrom: 'x-tenant' } }));
    await pool.start();
    pool.beginDrain();
    expect(() => pool.tryAcquire({ headers: { 'x-tenant': 't1' } })).toThrow(PoolClosedError);
    expect(pool.tenantInFlight('t1')).toBe(0);
  });

  it('fails a failFast start with the creation error as cause, never "undefined"', async () => {
    const d = new FakeDriver();
    d.classify = () => ({ kind: 'auth', status: 401 });
    d.down = true;
    const pool = track(makePool(d, { minSessions: 1, failFast: true }));
    const error = await pool.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SessionCreateError);
    expect((error as Error).message).not.toMatch(/undefined/);
    expect((error as Error).message).toMatch(/HTTP 401/);
    expect((error as Error & { cause?: unknown }).cause).toBeDefined();
  });
});

describe('lifetime and resize at the seams', () => {
  it('recycles a multiplexed session at its lifetime even though steady load never leaves it idle', async () => {
    const d = new FakeDriver();
    d.onRequest = (_s, _m, params) => delay((params as { name: string }).name === 'long' ? 500 : 10).then(() => ({ content: [] }));
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 2, maxConcurrentPerSession: 2, maxSessionLifetimeMs: 100 }));
    await pool.start();
    const recycled = new Promise<number>((resolve) => pool.events.on('sessionCreated', () => resolve(Date.now())));
    // One long call keeps the first session busy the whole time: it is never idle.
    const long = pool.callTool('long');
    const started = Date.now();
    let stop = false;
    const shorts = (async () => {
      while (!stop) await pool.callTool('short');
    })();
    const replacedAt = await Promise.race([recycled, delay(450).then(() => undefined)]);
    stop = true;
    await shorts;
    expect(replacedAt).toBeDefined(); // a replacement came up while the long call still ran
    expect(replacedAt! - started).toBeLessThan(450);
    expect(pool.metrics.snapshot().recycledCount).toBe(1);
    expect(d.sessions[0]!.closed).toBe(false); // never closed under its call
    await long;
    await tick();
    expect(d.sessions[0]!.closed).toBe(true); // closed once its last call returned
  });

  it('keeps maxSessions a hard cap when resize() lowers it while sessions are being created', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 6 }));
    await pool.start();
    d.createDelayMs = 50;
    const leases = [await pool.acquire()];
    const waiting = Array.from({ length: 5 }, () => pool.acquire({ acquireTimeoutMs: 300 }));
    await tick();
    expect(pool.metrics.snapshot().creating).toBe(5);
    pool.resize({ maxSessions: 2 });
    // The first lease comes back: one waiter gets it, one more session may come up, the rest are closed.
    leases[0]!.release();
    const settled = await Promise.allSettled(waiting.map((w) => w.then((l) => (leases.push(l), l))));
    expect(d.open).toBeLessThanOrEqual(2);
    expect(d.maxOpen).toBeLessThanOrEqual(3); // a session arriving over the cap is closed at once
    expect(pool.metrics.snapshot().total).toBeLessThanOrEqual(2);
    for (const l of leases.slice(1)) l.release();
    expect(settled.filter((s) => s.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
  });
});

describe('the cap with a retiring session', () => {
  it('closes a session that arrives over a lowered maxSessions while a retiring session still serves its call', async () => {
    const d = new FakeDriver();
    const pool = track(makePool(d, { minSessions: 0, maxSessions: 2, maxSessionLifetimeMs: 40, drainTimeoutMs: 100 }));
    await pool.start();
    const a = await pool.acquire(); // session 0, busy past its lifetime: it retires when a returns
    await delay(80);
    d.createDelayMs = 50;
    const b = pool.acquire({ acquireTimeoutMs: 1000 }); // starts session 1 (room: 2 - 1)
    await tick();
    expect(pool.metrics.snapshot().creating).toBe(1);
    pool.resize({ maxSessions: 1 });
    await delay(100); // session 1 arrives: session 0 is still open under a's call
    expect(d.live().length).toBeLessThanOrEqual(1);
    expect(d.maxOpen).toBeLessThanOrEqual(2); // the arrival may open for a moment, then is closed
    a.release(); // session 0 finishes retiring; b gets a session within the cap
    (await b).release();
    expect(d.live().length).toBe(1);
  });
});

describe('the rate limiter at the seams', () => {
  const answering = () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    return d;
  };

  it('admits a pool-level call before it takes a slot: while it waits for the limiter, the slot serves others', async () => {
    const pool = track(makePool(answering(), { minSessions: 1, maxSessions: 1, rateLimit: { requestsPerSecond: 4, burst: 1 } }));
    await pool.start();
    await pool.callTool('first'); // takes the only token
    const waiting = pool.callTool('second'); // waits ~250 ms for the limiter
    await tick();
    const lease = pool.tryAcquire();
    expect(lease).not.toBeNull(); // the waiting call holds no slot
    lease!.release();
    await waiting;
  });

  it('refuses at once, with how long it would have waited, a wait that would outlast the caller’s deadline', async () => {
    const pool = track(makePool(answering(), { minSessions: 1, rateLimit: { requestsPerSecond: 1, burst: 1 } }));
    await pool.start();
    await pool.callTool('first');
    const refused = pool.callTool('second', {}, { acquireTimeoutMs: 100 });
    await expect(Promise.race([refused, tick().then(() => 'still waiting')])).rejects.toThrow(RateLimitedError);
    const error = (await refused.catch((e: unknown) => e)) as RateLimitedError;
    expect(error.retryAfterMs).toBeGreaterThan(100);
    expect(error.message).toMatch(/past its 100 ms deadline/);
  });

  it('gives an unused reservation back: a caller that aborts does not push the next one further out', () => {
    const limiter = new RateLimiter(10, 1); // one per 100 ms
    expect(limiter.reserve(1000)).toBe(0);
    expect(limiter.reserve(1000)).toBe(100); // B
    limiter.refund(); // B gave up
    expect(limiter.reserve(1000)).toBe(100); // C gets B's place, not 200
  });

  it('lets any number of callers wait for the limiter without a MaxListenersExceededWarning', async () => {
    const watch = watchListenerWarnings();
    let warnings: string[];
    try {
      const pool = track(makePool(answering(), { minSessions: 1, maxSessions: 1, rateLimit: { requestsPerSecond: 1000, burst: 1 } }));
      await pool.start();
      // 12 callers wait for the limiter at once; each listens to the pool's drain signal while it waits.
      await Promise.all(Array.from({ length: 12 }, () => pool.callTool('x')));
    } finally {
      warnings = watch.stop();
    }
    expect(warnings).toEqual([]);
  });

  it('ends waits for the limiter when the pool drains: PoolClosedError at once, no timer left', async () => {
    const pool = track(makePool(answering(), { minSessions: 1, rateLimit: { requestsPerSecond: 0.5, burst: 1 } }));
    await pool.start();
    await pool.callTool('first');
    const waiting = pool.callTool('second', {}, { acquireTimeoutMs: 0 }); // would wait ~2 s
    await tick();
    const closed = pool.shutdown();
    await expect(Promise.race([waiting, tick().then(() => 'still waiting')])).rejects.toBeInstanceOf(PoolClosedError);
    await closed;
  });

  it('caps a server’s Retry-After at 60 s', async () => {
    const d = answering();
    let first = true;
    d.onRequest = async () => {
      if (first) {
        first = false;
        throw new Error('429 (fake)');
      }
      return { content: [] };
    };
    d.classify = (e) => ((e as Error).message.includes('429') ? { kind: 'rate-limited', retryAfterMs: 10 * 3_600_000 } : { kind: 'call' });
    const pool = track(makePool(d, { minSessions: 1, rateLimit: { requestsPerSecond: 100, burst: 10 } }));
    await pool.start();
    const lease = await pool.acquire();
    await expect(lease.callTool('limited')).rejects.toBeInstanceOf(RateLimitedError); // the server's 10-hour pause
    lease.release();
    const error = (await pool.callTool('next', {}, { acquireTimeoutMs: 59_000 }).catch((e: unknown) => e)) as RateLimitedError;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.retryAfterMs).toBeGreaterThan(59_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
  });
});

describe('server questions at the seams', () => {
  it('never gives the next caller a question of a call that timed out: the server may still be running it', async () => {
    // Over stdio a question names no request. The first call times out, but its tool ignores the
    // cancellation and asks later, while the second call is the only one in flight on the session.
    const d = new FakeDriver();
    d.classify = (e) => (/timed out/.test((e as Error).message) ? { kind: 'timeout' } : { kind: 'call' });
    let lateQuestion: (() => Promise<unknown>) | undefined;
    d.onRequest = async (session, _method, params, options) => {
      if ((params as { name: string }).name === 'first') {
        lateQuestion = () =>
          session.fromPipe(() =>
            session.spec!.answer(
              'elicitation/create',
              { message: 'asked by the first call', requestedSchema: { type: 'object', properties: {} } },
              { signal: new AbortController().signal, requestId: 1 },
              undefined,
            ),
          );
        return new Promise((_, reject) => setTimeout(() => reject(new Error('Request timed out (fake)')), options.timeoutMs));
      }
      const answer = await lateQuestion!().catch((e: unknown) => e);
      return { content: [], structuredContent: { answer } };
    };
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 1, capabilities: { elicitation: { form: {} } } }));
    await pool.start();
    await expect(pool.callTool('first', {}, { timeoutMs: 20 })).rejects.toBeInstanceOf(CallTimeoutError);
    const seen: string[] = [];
    const result = await pool.callTool('second', {}, {
      onElicitation: (q) => {
        seen.push(q.message);
        return { action: 'accept', content: {} };
      },
    });
    expect(seen).toEqual([]); // the second caller's handler never saw the first call's question
    expect((result.structuredContent as { answer: unknown }).answer).toBeInstanceOf(ServerQuestionRefusedError);
  });
});

describe('a call whose caller was asked a question', () => {
  // The session is lost after the question was answered, in a way that says the call did not run (so the
  // pool would otherwise retry it): the question arrives on the pipe (no origin, as over stdio).
  function askingThenLost(d: FakeDriver): void {
    d.classify = (e) => (e instanceof FakeRefusal ? e.verdict : { kind: 'call' });
    d.onRequest = async (session, _method, _params) => {
      await session.fromPipe(() =>
        session.spec!.answer('elicitation/create', { message: 'who?', requestedSchema: { type: 'object', properties: {} } }, { signal: new AbortController().signal, requestId: 1 }, undefined),
      );
      throw new FakeRefusal({ kind: 'session-fatal', mayHaveRun: false });
    };
  }

  it('is not retried by the pool, nor failed over by a group: the user is asked once', async () => {
    const asked = { count: 0 };
    const onElicitation = () => (asked.count++, { action: 'accept' as const, content: {} });
    const [a, b] = [new FakeDriver(), new FakeDriver()];
    askingThenLost(a);
    askingThenLost(b);
    const opts = { minSessions: 1, maxSessions: 2, capabilities: { elicitation: { form: {} } } };
    const pool = track(makePool(a, { name: 'a', ...opts }));
    await pool.start();
    await expect(pool.callTool('ask', {}, { onElicitation })).rejects.toBeInstanceOf(SessionLostError);
    expect(asked.count).toBe(1);
    const group = new McpPoolGroup({ name: 'g', pools: [pool, track(makePool(b, { name: 'b', ...opts }))] });
    await group.start();
    await expect(group.callTool('ask', {}, { onElicitation })).rejects.toBeInstanceOf(SessionLostError);
    expect(asked.count).toBe(2);
  });

  it('a question refused (no handler anywhere) asks nobody: the call is retried as before', async () => {
    const d = new FakeDriver();
    let calls = 0;
    d.classify = (e) => (e instanceof FakeRefusal ? e.verdict : { kind: 'call' });
    d.onRequest = async (session, _method, _params, options) => {
      calls++;
      // This time the question names its request (as over HTTP): the refusal must not mark it.
      await session.spec!.answer('sampling/createMessage', { messages: [], maxTokens: 1 } as never, { signal: new AbortController().signal, requestId: 1 }, options).catch(() => undefined);
      if (calls === 1) throw new FakeRefusal({ kind: 'session-fatal', mayHaveRun: false });
      return { content: [] };
    };
    const pool = track(makePool(d, { minSessions: 1, maxSessions: 2 }));
    await pool.start();
    await expect(pool.callTool('ask', {})).resolves.toEqual({ content: [] });
    expect(calls).toBe(2);
  });
});

describe('small seams', () => {
  it('leaves no listener on the caller’s signal when a call is refused for its headers', async () => {
    const { getEventListeners } = require('node:events') as typeof import('node:events');
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    const pool = track(makePool(d, { minSessions: 1 }));
    await pool.start();
    const ac = new AbortController();
    // On a lease: a pool-level call checks its headers at the borrow already, before any signal is linked.
    await pool.session(async (lease) => {
      for (let i = 0; i < 3; i++) {
        await expect(lease.callTool('x', {}, { signal: ac.signal, headers: { 'mcp-session-id': 'forged' } })).rejects.toBeInstanceOf(McpPoolConfigError);
      }
    });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('waits in shutdown() for partitions it evicted to make room', async () => {
    const d = new FakeDriver();
    d.onRequest = async () => ({ content: [] });
    const pool = track(makePool(d, { minSessions: 0, partitionBy: ['authorization'], maxPartitions: 1 }));
    await pool.start();
    await pool.callTool('x', {}, { headers: { authorization: 'Bearer a' } });
    d.sessions[0]!.closeDelayMs = 300; // a's session is slow to close (a child slow to exit)
    await pool.callTool('x', {}, { headers: { authorization: 'Bearer b' } }); // evicts a's partition
    await pool.shutdown();
    expect(d.open).toBe(0); // a's session too, though its close was slow
  });
});

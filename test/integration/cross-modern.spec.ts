// Where two features meet on the 2026-07-28 ("modern") era path: the pool on the v2 client driver
// (protocol 'auto' / 'modern') against real v2 servers on 127.0.0.1. Each test is one crossing of two
// features (input_required × rate limit, input_required × shutdown, partitions × cap × tenant limit, …).
import { CallTimeoutError, McpPool, OperationAbortedError, PoolClosedError, RateLimitedError, runWithMcpHeaders, type McpPoolOptions } from '../../lib';
import { startV2HttpServer, type V2TestServer } from '../fixtures/v2-http-server';
import { eraCacheKey, sharedEraCache } from '../../lib/transports/v2/era-cache';
import { textOf, until } from '../support/pids';

let server: V2TestServer;
let pool: McpPool | undefined;
beforeEach(async () => {
  server = await startV2HttpServer({ era: 'modern', toolsTtlMs: 60_000 });
});
afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  await server.close();
});

const makePool = (options: Partial<McpPoolOptions> = {}): McpPool =>
  (pool = new McpPool({ name: 'cross', endpoint: server.url, protocol: 'auto', minSessions: 1, healthCheckIntervalMs: 0, ...options }));

const elicitCapable = { capabilities: { elicitation: { form: {} } } } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Settles once, and says how (to prove a call is never settled twice, nor left pending). */
function settleOnce<T>(p: Promise<T>): { settled: () => number; outcome: Promise<{ ok: true; value: T } | { ok: false; error: unknown }> } {
  let n = 0;
  const outcome = p.then(
    (value) => (n++, { ok: true as const, value }),
    (error: unknown) => (n++, { ok: false as const, error }),
  );
  return { settled: () => n, outcome };
}

describe('input_required × rateLimit', () => {
  it('every leg of an input_required round is a request, and each takes a rate-limit token', async () => {
    const p = makePool({ ...elicitCapable, rateLimit: { requestsPerSecond: 4, burst: 1 } });
    await p.start();
    await sleep(300); // the bucket is full again (start() made no limited request anyway)
    server.resetStats();
    for (let i = 0; i < 3; i++) {
      const r = await p.callTool('elicit_name', { question: 'who?' }, { onElicitation: async () => ({ action: 'accept', content: { name: `n${i}` } }) });
      expect(textOf(r)).toBe(`accept:n${i}`);
    }
    const legs = server.stats.requestLog.filter((r) => r.method === 'tools/call');
    expect(legs).toHaveLength(6); // each call: the first leg, then the retry with the answer
    // 4 requests per second, burst 1: no two requests closer than ~250 ms.
    const gaps = legs.slice(1).map((l, i) => l.at - legs[i]!.at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(200);
  });
});

describe('input_required × rateLimit × deadline', () => {
  it('a retry leg still waiting for the limiter when the call times out is never sent', async () => {
    const p = makePool({ ...elicitCapable, rateLimit: { requestsPerSecond: 1, burst: 1 } });
    await p.start();
    await sleep(1100); // a full bucket
    server.resetStats();
    // The first leg takes the token; the handler answers after 500 ms; the retry leg then waits ~500 ms for
    // the next token (within the 600 ms deadline, so it is not refused at once), and the deadline passes first:
    // the v2 client's own request signal (linked to the call's whole-call bound) keeps the late leg unsent.
    const error = await p
      .callTool('elicit_name', { question: 'who?' }, { timeoutMs: 600, onElicitation: async () => (await sleep(500), { action: 'accept', content: { name: 'late' } }) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    await sleep(700); // past the moment the limiter would have let the leg go
    expect(server.stats.requestLog.filter((r) => r.method === 'tools/call')).toHaveLength(1);
  });
});

describe('input_required × the pool\'s retries', () => {
  it('a call whose retry leg gets a 429 after its handler answered is not run again: the user is asked once', async () => {
    const p = makePool({ ...elicitCapable, rateLimit: { requestsPerSecond: 100, burst: 10 } });
    await p.start();
    let asked = 0;
    const error = await p
      .callTool('elicit_name', { question: 'who?' }, {
        onElicitation: async () => {
          asked++;
          server.failNext('tools/call', 429); // the leg that carries the answer is refused
          return { action: 'accept', content: { name: 'n' } };
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(asked).toBe(1);
    expect(server.stats.requestLog.filter((r) => r.method === 'tools/call')).toHaveLength(2);
    // Without a handler asked, a 429 is still retried once the pause is over (the pool's rule).
    server.failNext('tools/call', 429);
    expect(textOf(await p.callTool('echo', { text: 'again' }))).toBe('again');
  });
});

describe('input_required × deadline and abort', () => {
  it("a call's timeoutMs bounds the whole call, the caller's handler included: CallTimeoutError, settled once, no retry leg sent", async () => {
    const p = makePool(elicitCapable);
    await p.start();
    let handlerSignal: AbortSignal | undefined;
    const t0 = Date.now();
    const call = settleOnce(
      p.callTool(
        'elicit_name',
        { question: 'slow user' },
        {
          timeoutMs: 300,
          onElicitation: async (_params, extra) => {
            handlerSignal = extra.signal;
            await sleep(1500);
            return { action: 'accept', content: { name: 'late' } };
          },
        },
      ),
    );
    const outcome = await call.outcome;
    const elapsed = Date.now() - t0;
    expect(outcome.ok ? textOf(outcome.value) : outcome.error).toBeInstanceOf(CallTimeoutError);
    expect(elapsed).toBeLessThan(1000);
    expect(handlerSignal?.aborted).toBe(true);
    await sleep(1600);
    expect(call.settled()).toBe(1);
    expect(server.toolCalls.get('elicit_name')).toBe(1); // the late answer is never sent
  });

  it("the caller's abort during its handler: OperationAbortedError at once, the handler told, no retry leg sent", async () => {
    const p = makePool(elicitCapable);
    await p.start();
    const ac = new AbortController();
    let handlerSignal: AbortSignal | undefined;
    const call = settleOnce(
      p.callTool(
        'elicit_name',
        { question: 'q' },
        {
          signal: ac.signal,
          onElicitation: async (_params, extra) => {
            handlerSignal = extra.signal;
            await sleep(800);
            return { action: 'accept', content: { name: 'late' } };
          },
        },
      ),
    );
    await until(() => handlerSignal !== undefined, 2000, 'the handler running');
    const t0 = Date.now();
    ac.abort(new Error('user left'));
    const outcome = await call.outcome;
    expect(Date.now() - t0).toBeLessThan(300);
    expect(outcome.ok ? outcome.value : outcome.error).toBeInstanceOf(OperationAbortedError);
    expect(handlerSignal?.aborted).toBe(true);
    await sleep(900);
    expect(call.settled()).toBe(1);
    expect(server.toolCalls.get('elicit_name')).toBe(1);
    expect(p.metrics.snapshot().inFlight).toBe(0);
  });
});

describe('input_required × shutdown', () => {
  it('a call waiting in its handler when shutdown() runs settles once (PoolClosedError), and nothing is left open', async () => {
    const p = makePool({ ...elicitCapable, drainTimeoutMs: 200 });
    await p.start();
    let inHandler = false;
    const call = settleOnce(
      p.callTool(
        'elicit_name',
        { question: 'q' },
        {
          // A user who never answers; a handler that honours its signal.
          onElicitation: (_params, extra) =>
            new Promise((_resolve, reject) => {
              inHandler = true;
              extra.signal.addEventListener('abort', () => reject(extra.signal.reason), { once: true });
            }),
        },
      ),
    );
    await until(() => inHandler, 2000, 'the handler running');
    const closed = p.shutdown();
    await closed;
    pool = undefined;
    const outcome = await Promise.race([call.outcome, sleep(1000).then(() => 'pending' as const)]);
    expect(outcome === 'pending' ? outcome : outcome.ok ? outcome.value : outcome.error).toBeInstanceOf(PoolClosedError);
    expect(call.settled()).toBe(1);
    await until(() => server.openSockets() === 0, 1000, 'every socket closed');
  });
});

describe('partitionBy × maxSessions × tenantLimit', () => {
  it('identities never see each other\'s headers, the cap holds under rebalancing, and the tenant limit counts per identity', async () => {
    const p = makePool({
      partitionBy: ['x-user'],
      minSessions: 1,
      maxSessions: 3,
      maxSessionsPerPartition: 1,
      maxConcurrentPerSession: 4,
      tenantLimit: { maxConcurrentPerTenant: 2, tenantFrom: 'x-user' },
      acquireTimeoutMs: 10_000,
    });
    const reasons: string[] = [];
    p.events.on('sessionDestroyed', (e) => void reasons.push(e.reason));
    let maxTotal = 0;
    p.events.on('sessionCreated', () => void (maxTotal = Math.max(maxTotal, p.metrics.snapshot().total)));
    await p.start();
    const users = ['u1', 'u2', 'u3', 'u4'];
    const who = async (user: string, i: string) => {
      const seen = JSON.parse(textOf(await p.callTool('whoami', {}, { headers: { 'x-user': user, 'x-request-id': `${user}-${i}` } }))) as { headers: Record<string, string> };
      return `${seen.headers['x-user']}/${seen.headers['x-request-id']}`;
    };
    for (let round = 0; round < 3; round++) {
      const expected = users.flatMap((u) => [`${u}/${u}-${round}a`, `${u}/${u}-${round}b`]);
      const seen = await Promise.all(users.flatMap((u) => [`${round}a`, `${round}b`].map((suffix) => who(u, suffix))));
      expect(seen).toEqual(expected);
      expect(p.metrics.snapshot().total).toBeLessThanOrEqual(3);
    }
    expect(maxTotal).toBeLessThanOrEqual(3);
    expect(reasons).toContain('rebalance');
    // Each partition's own requests (listen stream, tools listing) carried its identity only.
    for (const r of server.stats.requestLog) if (r.headers['x-request-id']) expect(r.headers['x-request-id'].startsWith(`${r.headers['x-user']}-`)).toBe(true);
    // tenantLimit counts the identity's leases; a third at once is refused.
    const slow = [0, 1].map(() => p.callTool('slow_lookup', { key: 'k', ms: 300 }, { headers: { 'x-user': 'u1' } }));
    await until(() => p.tenantInFlight('u1') === 2, 3000, 'two leases of u1');
    await expect(p.callTool('echo', { text: 'x' }, { headers: { 'x-user': 'u1' } })).rejects.toMatchObject({ name: 'TenantLimitError' });
    await Promise.all(slow);
    expect(p.tenantInFlight('u1')).toBe(0);
  }, 30_000);
});

describe('list cache × partitions', () => {
  it("after a server restart no partition serves the list it cached before (its listen stream ended with its session)", async () => {
    const p = makePool({ partitionBy: ['x-user'], minSessions: 1, maxSessions: 4, toolCacheTtlMs: 300_000 });
    await p.start();
    const list = async (user: string) => (await p.listTools({ headers: { 'x-user': user } })).map((t) => t.name);
    expect(await list('a')).not.toContain('late');
    expect(await list('b')).not.toContain('late');
    await until(() => server.stats.requestsByMethod['subscriptions/listen'] === 3, 3000, 'three listen streams');
    server.addTool('late');
    await server.restart(); // the server changed while nobody listened
    await until(() => p.metrics.snapshot().sessionsDestroyed >= 3, 3000, 'every deaf session evicted');
    expect(await list('a')).toContain('late');
    expect(await list('b')).toContain('late');
  });

  it('a partition whose session was closed (rebalance) does not serve a list the server has since said changed', async () => {
    const p = makePool({ partitionBy: ['x-user'], minSessions: 1, maxSessions: 2, toolCacheTtlMs: 300_000 });
    await p.start();
    const list = async (user: string) => (await p.listTools({ headers: { 'x-user': user } })).map((t) => t.name);
    expect(await list('a')).not.toContain('late');
    // b needs the room: a's idle session is closed for it (rebalance); a keeps its cached list.
    const rebalanced = new Promise<void>((resolve) => p.events.on('sessionDestroyed', (e) => void (e.reason === 'rebalance' && resolve())));
    await p.callTool('echo', { text: 'b' }, { headers: { 'x-user': 'b' } });
    await rebalanced;
    await until(() => server.stats.requestsByMethod['subscriptions/listen'] === 3, 3000, "b's listen stream");
    server.addTool('late');
    server.notifyToolsChanged();
    await sleep(200);
    // Nothing of a's was listening when the list changed: its cached list must not be served as fresh.
    expect(await list('a')).toContain('late');
  });
});

describe('resize × creations in flight', () => {
  it('shrinking while creations run: the cap holds once they land, every call is served, nothing leaks', async () => {
    const p = makePool({ minSessions: 1, maxSessions: 6, maxConcurrentPerSession: 1, acquireTimeoutMs: 10_000 });
    await p.start();
    let maxTotal = 0;
    p.events.on('sessionCreated', () => void (maxTotal = Math.max(maxTotal, p.metrics.snapshot().total)));
    const calls = Array.from({ length: 12 }, (_, i) => p.callTool('slow_lookup', { key: `k${i}`, ms: 100 }));
    await until(() => p.metrics.snapshot().creating > 0, 2000, 'creations under way');
    p.resize({ maxSessions: 2 });
    const resized = Date.now();
    const results = await Promise.all(calls);
    expect(results.map(textOf)).toEqual(Array.from({ length: 12 }, (_, i) => `k${i}`));
    await until(() => p.metrics.snapshot().total <= 2 && p.metrics.snapshot().creating === 0, 3000, 'back under the cap');
    void resized;
    p.resize({ minSessions: 3, maxSessions: 4 });
    await until(() => p.metrics.snapshot().total === 3, 3000, 'grown to the new minimum');
    await until(() => server.stats.requestsByMethod['subscriptions/listen']! >= 3, 3000, 'listen streams');
    await p.shutdown();
    pool = undefined;
    await until(() => server.openSockets() === 0, 1000, 'every socket closed');
  });
});

describe('health × a server that goes down and comes back × circuit × era verdicts', () => {
  it('health is down while the server is, the circuit opens, and the pool recovers in the modern era', async () => {
    const p = makePool({ minSessions: 1, failureThreshold: 2, retryBaseDelayMs: 10, retryMaxDelayMs: 20, recoveryInitialMs: 100, recoveryTimeoutMs: 200, healthCheckTimeoutMs: 500 });
    await p.start();
    expect(p.protocolEra).toBe('modern');
    await server.stop();
    const down = await p.checkHealth();
    expect(down.status).toBe('down');
    await until(() => p.circuitState !== 'closed', 3000, 'the circuit open');
    await server.restart();
    await until(() => p.metrics.snapshot().total >= 1, 5000, 'a session again');
    expect((await p.checkHealth()).status).toBe('up');
    expect(p.protocolEra).toBe('modern');
    expect(textOf(await p.callTool('echo', { text: 'back' }))).toBe('back');
  });

  it.each([404, 429])('a transient HTTP %i to the first server/discover of a server coming back is not taken for a verdict on its era', async (status) => {
    const p = makePool({ minSessions: 1, failureThreshold: 2, retryBaseDelayMs: 10, retryMaxDelayMs: 20, recoveryInitialMs: 100, recoveryTimeoutMs: 200, healthCheckTimeoutMs: 500 });
    await p.start();
    expect(p.protocolEra).toBe('modern');
    await server.stop();
    expect((await p.checkHealth()).status).toBe('down');
    // The server comes back, and its first answer to a probe is an HTTP error that says nothing about its era.
    server.failNext('server/discover', status);
    await server.restart();
    // Health may be down for a moment (that answer may be the one a probe gets); it must come back up.
    const deadline = Date.now() + 5000;
    while ((await p.checkHealth()).status !== 'up' && Date.now() < deadline) await sleep(50);
    expect((await p.checkHealth()).status).toBe('up');
    expect(p.protocolEra).toBe('modern');
    expect(server.stats.requestsByMethod['initialize']).toBeUndefined();
    expect(textOf(await p.callTool('echo', { text: 'back' }))).toBe('back');
  });
});

describe('era negotiation × a transient answer to the very first probe', () => {
  it.each([404, 429])("a new 'auto' pool whose first server/discover gets HTTP %i backs off and tries again: not declared incompatible", async (status) => {
    server.failNext('server/discover', status);
    const p = makePool({ minSessions: 1, failFast: false, retryBaseDelayMs: 10, retryMaxDelayMs: 20 });
    await p.start();
    await until(() => p.isReady, 3000, 'a session after the second probe');
    expect(p.protocolEra).toBe('modern');
    expect((await p.checkHealth()).status).toBe('up');
    expect(textOf(await p.callTool('echo', { text: 'ok' }))).toBe('ok');
    // The misread probe fell back to initialize once (which the modern-only server refused), never again.
    expect(server.stats.requestsByMethod['initialize']).toBe(1);
  });
});

describe('era cache × a server that changed era', () => {
  it("a cached legacy verdict that a now modern-only server refuses is dropped and the server asked again", async () => {
    // As an earlier 'auto' session would have left it (the server spoke 2025 then, or its probe was misread).
    sharedEraCache.set(eraCacheKey(server.url, {}, undefined, undefined), { kind: 'legacy' });
    const p = makePool({ minSessions: 1, failFast: false, retryBaseDelayMs: 10, retryMaxDelayMs: 20 });
    await p.start();
    await until(() => p.isReady, 3000, 'a modern session after one refused initialize');
    expect(p.protocolEra).toBe('modern');
    expect(server.stats.requestsByMethod['initialize']).toBe(1);
    expect(server.stats.requestsByMethod['server/discover']).toBe(1);
  });
});

describe('per-request headers × retries', () => {
  it("a safe-to-repeat call re-issued after a lost response carries its own caller's headers, two callers on one session", async () => {
    const p = makePool({ minSessions: 1, maxSessions: 2, maxConcurrentPerSession: 2 });
    await p.start();
    await p.listTools();
    const calls = ['alice', 'bob'].map((who) => p.callTool('slow_lookup', { key: who, ms: 300 }, { headers: { 'x-request-id': who } }));
    await until(() => server.toolCalls.get('slow_lookup') === 2, 2000, 'both calls running');
    await server.restart();
    expect((await Promise.all(calls)).map(textOf)).toEqual(['alice', 'bob']);
    const legs = server.stats.requestLog.filter((r) => r.method === 'tools/call');
    expect(legs).toHaveLength(4);
    // Every leg carried one caller's header, and each caller's retry carried its own (the key is in the body).
    for (const leg of legs) expect(['alice', 'bob']).toContain(leg.headers['x-request-id']);
    expect(legs.filter((l) => l.headers['x-request-id'] === 'alice')).toHaveLength(2);
    expect(legs.filter((l) => l.headers['x-request-id'] === 'bob')).toHaveLength(2);
  });

  it("an input_required retry leg carries its caller's context headers, not another caller's", async () => {
    const p = makePool({ ...elicitCapable, minSessions: 1, maxSessions: 1, maxConcurrentPerSession: 4 });
    await p.start();
    const ask = (who: string, delayMs: number) =>
      runWithMcpHeaders({ 'x-request-id': who }, () =>
        p.callTool('elicit_name', { question: 'q' }, { onElicitation: async () => (await sleep(delayMs), { action: 'accept', content: { name: who } }) }),
      );
    const results = await Promise.all([ask('alice', 80), ask('bob', 10), ask('carol', 40)]);
    expect(results.map(textOf)).toEqual(['accept:alice', 'accept:bob', 'accept:carol']);
    const legs = server.stats.requestLog.filter((r) => r.method === 'tools/call');
    expect(legs).toHaveLength(6);
    for (const who of ['alice', 'bob', 'carol']) expect(legs.filter((l) => l.headers['x-request-id'] === who)).toHaveLength(2);
  });
});

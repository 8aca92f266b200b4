// What only the 2026-07-28 era has: list_changed over subscriptions/listen, stateless retries, the era on
// health and spans. Real v2 servers on 127.0.0.1.
import { McpMissingCapabilityError, McpPool, RateLimitedError, SessionLostError, type McpCallInfo, type McpPoolOptions } from '../../lib';
import { Client as V2Client } from '@modelcontextprotocol/client';
import { startV2HttpServer, type V2TestServer } from '../fixtures/v2-http-server';
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
  (pool = new McpPool({ name: 'modern', endpoint: server.url, protocol: 'auto', minSessions: 2, healthCheckIntervalMs: 0, ...options }));

describe('list_changed on a 2026-07-28 server', () => {
  it('every client holds one subscriptions/listen stream, those connected from the cached verdict included', async () => {
    const p = makePool({ minSessions: 3 });
    await p.start();
    await until(() => server.stats.requestsByMethod['subscriptions/listen'] === 3, 3000, 'three listen streams');
    expect(server.stats.requestsByMethod['server/discover']).toBe(1);
  });

  it('the listen streams hold no connection of the bounded set: 3 clients on maxConnections 2 still run 6 calls at once', async () => {
    const p = makePool({ minSessions: 3, maxSessions: 3, maxConcurrentPerSession: 2, maxConnections: 2 });
    await p.start();
    await until(() => server.stats.requestsByMethod['subscriptions/listen'] === 3, 3000, 'three listen streams');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => p.callTool('echo', { text: `c${i}` }, { timeoutMs: 5000 })));
    expect(results.map(textOf)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    // 2 for the calls, one per listen stream: no more.
    expect(server.stats.tcpConnections).toBeLessThanOrEqual(5);
  });

  it("invalidates the tools cache when the server says the list changed, long before any TTL", async () => {
    const p = makePool({ toolCacheTtlMs: 300_000 });
    await p.start();
    await until(() => server.stats.requestsByMethod['subscriptions/listen'] === 2, 3000, 'listen streams');
    expect((await p.listTools()).map((t) => t.name)).not.toContain('late');
    server.addTool('late');
    server.notifyToolsChanged();
    for (let i = 0; i < 100 && !(await p.listTools()).some((t) => t.name === 'late'); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await p.listTools()).map((t) => t.name)).toContain('late');
  });

  it('replaces a session whose listen stream the server ended, so that no client goes deaf', async () => {
    const p = makePool({ minSessions: 1 });
    await p.start();
    await until(() => server.stats.requestsByMethod['subscriptions/listen'] === 1, 3000, 'a listen stream');
    await server.restart();
    await until(() => p.metrics.snapshot().sessionsDestroyed >= 1, 3000, 'the deaf session evicted');
    await until(() => server.stats.requestsByMethod['subscriptions/listen'] === 2, 3000, 'a new listen stream');
    expect(textOf(await p.callTool('echo', { text: 'ok' }))).toBe('ok');
  });
});

describe('the raw v2 client of a lease', () => {
  it('is the v2 Client, and its own calls inside session(fn, { headers }) carry those headers', async () => {
    const p = makePool({ minSessions: 1 });
    await p.start();
    await p.session(
      async (lease) => {
        const client = lease.client as V2Client;
        expect(client).toBeInstanceOf(V2Client);
        const seen = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))) as { headers: Record<string, string> };
        expect(seen.headers['x-trace']).toBe('t-9');
      },
      { headers: { 'x-trace': 't-9' } },
    );
    // And never outside it.
    const after = JSON.parse(textOf(await p.callTool('whoami', {}))) as { headers: Record<string, string> };
    expect(after.headers['x-trace']).toBeUndefined();
  });
});

describe('the era, reported', () => {
  it('on health and on every instrumented call', async () => {
    const seen: McpCallInfo[] = [];
    const p = makePool({
      instrumentation: {
        wrapCall: (info, fn) => {
          seen.push(info);
          return fn();
        },
      },
    });
    await p.start();
    await p.callTool('echo', { text: 'x' });
    expect(seen.at(-1)).toMatchObject({ method: 'tools/call', toolName: 'echo', era: 'modern' });
    expect(p.protocolEra).toBe('modern');
    expect((await p.checkHealth()).era).toBe('modern');
  });
});

describe('retries on a stateless server', () => {
  it('a safe-to-repeat call whose response is lost is re-issued as a new request', async () => {
    const p = makePool({ minSessions: 1, maxSessions: 2 });
    await p.start();
    await p.listTools(); // the annotations say slow_lookup is read-only
    const call = p.callTool('slow_lookup', { key: 'k', ms: 300 });
    await until(() => server.toolCalls.get('slow_lookup') === 1, 2000, 'the call running on the server');
    // The server goes away with the call in flight: its response is lost (the call may have run).
    await server.restart();
    expect(textOf(await call)).toBe('k');
    expect(server.toolCalls.get('slow_lookup')).toBe(2);
    const legs = server.stats.requestLog.filter((r) => r.method === 'tools/call');
    expect(legs).toHaveLength(2);
    expect(p.metrics.snapshot().retryAttempts).toBe(1);
  });

  it('a call that is not safe to repeat is not re-issued: the caller learns it may have run', async () => {
    const p = makePool({ minSessions: 1, maxSessions: 2 });
    await p.start();
    await p.listTools();
    const call = p.callTool('slow_write', { key: 'k', ms: 300 });
    await until(() => server.toolCalls.get('slow_write') === 1, 2000, 'the call running on the server');
    await server.restart();
    const error = (await call.catch((e: unknown) => e)) as SessionLostError;
    expect(error).toBeInstanceOf(SessionLostError);
    expect(error.mayHaveRun).toBe(true);
    expect(server.toolCalls.get('slow_write')).toBe(1);
  });
});

describe('typed errors of the 2026-07-28 era', () => {
  it('-32021: a tool that needs a capability the pool did not declare is a McpMissingCapabilityError naming it', async () => {
    const p = makePool({ minSessions: 1 });
    await p.start();
    const error = (await p.callTool('elicit_name', { question: 'q' }).catch((e: unknown) => e)) as McpMissingCapabilityError;
    expect(error).toBeInstanceOf(McpMissingCapabilityError);
    expect(error.code).toBe(-32021);
    expect(error.requiredCapabilities).toHaveProperty('elicitation');
  });
});

describe('what exists on both eras keeps working on the modern one', () => {
  it('auth: a bearer token (static or from a provider) reaches the endpoint; a refused one is a McpAuthError, not an outage', async () => {
    server.setRequireAuth('s3cret');
    const p = makePool({ minSessions: 1, auth: async () => ({ token: 's3cret' }) });
    await p.start();
    expect(textOf(await p.callTool('echo', { text: 'authorized' }))).toBe('authorized');
    await p.shutdown();
    const refused = makePool({ minSessions: 1, auth: 'wrong', failFast: true });
    const error = (await refused.start().catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('SessionCreateError');
    expect((error.cause as Error).name).toBe('McpAuthError');
    expect(refused.circuitState).toBe('closed');
  });

  it('429: a RateLimitedError with the Retry-After the server asked for', async () => {
    const p = makePool({ minSessions: 1 });
    await p.start();
    server.setTooManyRequests(2);
    const error = (await p.callTool('echo', { text: 'x' }).catch((e: unknown) => e)) as RateLimitedError;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.retryAfterMs).toBe(2000);
    server.setTooManyRequests(null);
  });

  it('drain: shutdown lets a call in flight finish, then closes every client', async () => {
    const p = makePool({ minSessions: 1 });
    await p.start();
    const call = p.callTool('slow_lookup', { key: 'drained', ms: 200 });
    await until(() => server.toolCalls.get('slow_lookup') === 1, 2000, 'the call running');
    const closed = p.shutdown();
    await expect(p.callTool('echo', { text: 'late' })).rejects.toMatchObject({ name: 'PoolClosedError' });
    expect(textOf(await call)).toBe('drained');
    await closed;
    pool = undefined;
    await until(() => server.openSockets() === 0, 1000, 'every socket closed');
  });
});

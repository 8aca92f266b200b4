// Per-request headers that reach the wire on shared warm sessions, identity partitions, and auth.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpPool, McpPoolConfigError, runWithMcpHeaders, type McpPoolLogger, type McpPoolOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { textOf, until } from '../support/pids';

let server: TestHttpServer;
let pool: McpPool | undefined;

function makePool(options: Partial<McpPoolOptions> = {}): McpPool {
  pool = new McpPool({ name: 'headers', endpoint: server.url, minSessions: 1, maxSessions: 4, healthCheckIntervalMs: 0, ...options });
  return pool;
}

async function whoami(p: McpPool, headers?: Record<string, string>): Promise<{ sessionId: string; headers: Record<string, string> }> {
  return JSON.parse(textOf(await p.callTool('whoami', {}, headers ? { headers } : undefined))) as {
    sessionId: string;
    headers: Record<string, string>;
  };
}

beforeEach(async () => {
  server = await startHttpMcpServer();
});
afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  await server.close();
});

describe('per-request headers', () => {
  it('reach the wire for that call only, on the same warm session', async () => {
    const p = makePool({ maxSessions: 1 });
    await p.start();
    const a = await whoami(p, { 'x-request-id': 'req-1' });
    const b = await whoami(p);
    expect(a.headers['x-request-id']).toBe('req-1');
    expect(b.headers['x-request-id']).toBeUndefined();
    expect(a.sessionId).toBe(b.sessionId);
    expect(server.stats.initializeCount).toBe(1);
  });

  it('apply to every call inside session(fn, { headers }), raw client calls included', async () => {
    const p = makePool();
    await p.start();
    await p.session(
      async (lease) => {
        const viaLease = JSON.parse(textOf(await lease.callTool('whoami'))) as { headers: Record<string, string> };
        const viaClient = JSON.parse(textOf(await (lease.client as Client).callTool({ name: 'whoami', arguments: {} }))) as { headers: Record<string, string> };
        expect(viaLease.headers['x-trace']).toBe('t-9');
        expect(viaClient.headers['x-trace']).toBe('t-9');
      },
      { headers: { 'x-trace': 't-9' } },
    );
  });

  it('flow from runWithMcpHeaders into calls made inside it', async () => {
    const p = makePool();
    await p.start();
    const seen = await runWithMcpHeaders({ 'x-request-id': 'ctx-7' }, () => whoami(p));
    expect(seen.headers['x-request-id']).toBe('ctx-7');
  });

  it('take precedence: static < auth < per-request', async () => {
    const p = makePool({ headers: { 'x-a': 'static', 'x-b': 'static' }, auth: 'tok' });
    await p.start();
    const plain = await whoami(p);
    expect(plain.headers).toMatchObject({ 'x-a': 'static', 'x-b': 'static', authorization: 'Bearer tok' });
    const overridden = await whoami(p, { 'x-a': 'request' });
    expect(overridden.headers).toMatchObject({ 'x-a': 'request', 'x-b': 'static', authorization: 'Bearer tok' });
  });

  it('refuse a per-call authorization on shared sessions with a typed error naming the header, sending nothing', async () => {
    const p = makePool({ auth: 'tok' });
    await p.start();
    const before = server.recorder.calls.length;
    const error = await whoami(p, { authorization: 'Bearer someone-else' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpPoolConfigError);
    expect((error as McpPoolConfigError).field).toBe('headers.authorization');
    expect((error as Error).message).not.toMatch(/someone-else/);
    expect(server.recorder.calls.length).toBe(before);
    // The same through the caller's context (runWithMcpHeaders), not only per call.
    await expect(runWithMcpHeaders({ authorization: 'Bearer ctx' }, () => whoami(p))).rejects.toBeInstanceOf(McpPoolConfigError);
  });

  it('keep identity headers (API keys, cookies, tenant ids) off shared sessions, and send them on the identity’s partition', async () => {
    const warnings: string[] = [];
    const logger = { log: () => undefined, warn: (m: string) => warnings.push(m), error: () => undefined };
    const shared = makePool({ logger });
    await shared.start();
    const seen = await whoami(shared, { 'x-api-key': 'k-secret-1', cookie: 'sid=abc', 'x-tenant-id': 'acme', 'x-request-id': 'r1' });
    expect(seen.headers['x-request-id']).toBe('r1'); // tracing headers still ride
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-tenant-id']).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/"x-api-key" is not sent on shared sessions/);
    expect(warnings.join('\n')).not.toMatch(/k-secret-1|sid=abc/);
    await shared.shutdown();
    const partitioned = makePool({ partitionBy: ['x-tenant-id'] });
    await partitioned.start();
    const own = await whoami(partitioned, { 'x-tenant-id': 'acme', 'x-api-key': 'k-secret-1' });
    expect(own.headers).toMatchObject({ 'x-tenant-id': 'acme', 'x-api-key': 'k-secret-1' });
  });

  it.each(['native', 'sdk'] as const)(
    'keeps identity headers off shared sessions when they are the only headers of the request (httpClient %s)',
    async (httpClient) => {
      const p = makePool({ httpClient });
      await p.start();
      // Every header of the request is stripped: the request must go without them, not fall back to the context's.
      const viaContext = await runWithMcpHeaders({ cookie: 'sid=ctx', 'x-api-key': 'k-ctx' }, () => whoami(p));
      const viaCall = await whoami(p, { cookie: 'sid=call' });
      for (const seen of [viaContext, viaCall]) {
        expect(seen.headers.cookie).toBeUndefined();
        expect(seen.headers['x-api-key']).toBeUndefined();
      }
    },
  );

  it('refuses protocol headers and CR/LF per request with a typed error, sending nothing', async () => {
    const p = makePool();
    await p.start();
    const calls = server.stats.requestsByMethod['tools/call'] ?? 0;
    await expect(p.callTool('echo', { text: 'x' }, { headers: { 'mcp-session-id': 'hijack' } })).rejects.toThrow(McpPoolConfigError);
    await expect(p.callTool('echo', { text: 'x' }, { headers: { 'x-ok': 'a\r\nx-evil: 1' } })).rejects.toThrow(/must not contain CR, LF or NUL/);
    await expect(p.acquire({ headers: { 'Content-Type': 'text/plain' } })).rejects.toThrow(/protocol header/);
    expect(server.stats.requestsByMethod['tools/call'] ?? 0).toBe(calls);
  });

  it('stay isolated: 1000 concurrent calls with distinct values on a few shared sessions each see their own', async () => {
    const p = makePool({ minSessions: 4, maxSessions: 4, maxConcurrentPerSession: 32 });
    await p.start();
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const seen = await whoami(p, { 'x-request-id': `r-${i}` });
        return { i, got: seen.headers['x-request-id'], session: seen.sessionId };
      }),
    );
    expect(results.filter((r) => r.got !== `r-${r.i}`)).toEqual([]);
    expect(new Set(results.map((r) => r.session)).size).toBe(4);
    expect(server.stats.initializeCount).toBe(4);
  }, 30_000);

  it('never put a caller’s headers on the initialize of a session created for it', async () => {
    const p = makePool({ minSessions: 0 });
    await p.start();
    await whoami(p, { 'x-request-id': 'first-caller' });
    const init = server.recorder.calls.length; // tool calls only; check the initialize request headers below
    expect(init).toBe(1);
    expect(server.stats.initializeCount).toBe(1);
    expect(server.stats.initializeHeaders[0]?.['x-request-id']).toBeUndefined();
  });
});

describe('work the pool does for itself', () => {
  it('creates a session outside the caller’s context: runWithMcpHeaders headers are on the call, not on initialize', async () => {
    const p = makePool({ minSessions: 0 });
    await p.start();
    const seen = await runWithMcpHeaders({ 'x-request-id': 'ctx-first' }, () => whoami(p));
    expect(seen.headers['x-request-id']).toBe('ctx-first');
    expect(server.stats.initializeCount).toBe(1);
    expect(server.stats.initializeHeaders[0]?.['x-request-id']).toBeUndefined();
    // Nor on the rest of the creation (notifications/initialized, the tools listing, the GET stream).
    const creation = server.stats.requestLog.filter((r) => r.headers['x-request-id'] === 'ctx-first');
    expect(creation).toHaveLength(1); // the caller's own tools/call only
  });
});

describe('identity partitions', () => {
  it('never share a session between two identities; requests without identity use the shared sessions', async () => {
    const p = makePool({ partitionBy: ['authorization'], maxSessionsPerPartition: 2 });
    await p.start();
    const alice = await Promise.all(Array.from({ length: 6 }, () => whoami(p, { authorization: 'Bearer alice' })));
    const bob = await Promise.all(Array.from({ length: 6 }, () => whoami(p, { authorization: 'Bearer bob' })));
    const anon = await whoami(p);
    const aliceSessions = new Set(alice.map((s) => s.sessionId));
    const bobSessions = new Set(bob.map((s) => s.sessionId));
    expect([...aliceSessions].some((s) => bobSessions.has(s))).toBe(false);
    expect(aliceSessions.has(anon.sessionId) || bobSessions.has(anon.sessionId)).toBe(false);
    expect(alice.every((s) => s.headers.authorization === 'Bearer alice')).toBe(true);
    const snap = p.metrics.snapshot();
    expect(snap.partitions).toBe(2);
    expect(snap.borrowCount).toBe(13);
    expect(JSON.stringify(snap)).not.toMatch(/alice|bob/);
  });

  it('create a partition’s sessions with the identity, so the server binds the right user at initialize', async () => {
    const p = makePool({ partitionBy: ['x-tenant'] });
    await p.start();
    await whoami(p, { 'x-tenant': 'acme' });
    expect(server.stats.initializeHeaders.map((h) => h['x-tenant'])).toContain('acme');
  });

  it('evict the least recently used idle partition beyond maxPartitions, closing its sessions', async () => {
    const p = makePool({ minSessions: 0, partitionBy: ['authorization'], maxPartitions: 2 });
    await p.start();
    const a = await whoami(p, { authorization: 'Bearer a' });
    await whoami(p, { authorization: 'Bearer b' });
    await whoami(p, { authorization: 'Bearer a' }); // b is now least recently used
    await whoami(p, { authorization: 'Bearer c' });
    expect(p.metrics.snapshot().partitions).toBe(2);
    await until(() => server.stats.sessionsDeleted === 1, 3000, "b's session to be closed");
    const again = await whoami(p, { authorization: 'Bearer a' });
    expect(again.sessionId).toBe(a.sessionId); // a survived
  });

  it('never send one identity’s token on another identity’s session, its DELETE included (many identities, few partitions)', async () => {
    // Each new identity evicts an idle partition: its sessions are closed while the new caller's call is
    // being set up, inside that caller's async context.
    const p = makePool({ minSessions: 0, partitionBy: ['authorization'], maxPartitions: 3, maxSessionsPerPartition: 1 });
    await p.start();
    for (let i = 0; i < 12; i++) await runWithMcpHeaders({ authorization: `Bearer user-${i}` }, () => whoami(p));
    await p.shutdown();
    const bySession = new Map<string, Set<string>>();
    for (const r of server.stats.requestLog) {
      if (r.sessionId === undefined) continue;
      const seen = bySession.get(r.sessionId) ?? new Set<string>();
      seen.add(r.headers.authorization ?? '(none)');
      bySession.set(r.sessionId, seen);
    }
    const deletes = server.stats.requestLog.filter((r) => r.verb === 'DELETE');
    expect(deletes.length).toBe(12); // every session was closed, and each close was seen
    const crossed = [...bySession.entries()].filter(([, tokens]) => tokens.size !== 1).map(([id, tokens]) => `${id}: ${[...tokens].join(' + ')}`);
    expect(crossed).toEqual([]);
  });

  it('refuse a new identity when every partition is busy', async () => {
    const p = makePool({ minSessions: 0, partitionBy: ['authorization'], maxPartitions: 1 });
    await p.start();
    const busy = p.callTool('sleep', { ms: 200 }, { headers: { authorization: 'Bearer a' } });
    await new Promise((r) => setTimeout(r, 50));
    await expect(whoami(p, { authorization: 'Bearer b' })).rejects.toThrow(/identity partitions are busy/);
    await busy;
  });
});

describe('auth', () => {
  it('sends a rotated token from a provider on the same warm session, calling the provider once per TTL', async () => {
    let current = 'token-1';
    let calls = 0;
    // A TTL long enough that the five calls below fit in it on a busy machine.
    const p = makePool({ maxSessions: 1, authCacheTtlMs: 1500, auth: async () => (calls++, current) });
    await p.start();
    const first = await whoami(p);
    current = 'token-2';
    for (let i = 0; i < 5; i++) await whoami(p);
    await new Promise((r) => setTimeout(r, 1600));
    const rotated = await whoami(p);
    expect(first.headers.authorization).toBe('Bearer token-1');
    expect(rotated.headers.authorization).toBe('Bearer token-2');
    expect(rotated.sessionId).toBe(first.sessionId);
    expect(calls).toBe(2);
  });

  it('never shows a token in logs, errors or metrics', async () => {
    server.setRequireAuth('the-right-secret');
    const lines: string[] = [];
    const logger: McpPoolLogger = {
      debug: (m) => lines.push(m),
      log: (m) => lines.push(m),
      warn: (m) => lines.push(m),
      error: (m) => lines.push(m),
    };
    const p = makePool({ auth: 'wrong-secret-4242', logger, headers: { 'x-api-key': 'key-secret-777' } });
    await p.start();
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) await p.callTool('echo', { text: 'x' }).catch((e: unknown) => errors.push(e));
    expect(errors).toHaveLength(3);
    const texts = [
      ...lines,
      ...errors.map((e) => `${String(e)} ${(e as Error).stack} ${String((e as Error).cause)}`),
      JSON.stringify(p.metrics.snapshot()),
      JSON.stringify((await p.checkHealth()).reason),
    ].join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(texts).not.toMatch(/wrong-secret-4242|key-secret-777|the-right-secret/);
  });
});

// Both Streamable HTTP clients of the pool, `httpClient: 'native'` (the default: lib/transports/native-http on
// undici) and `'sdk'` (the SDK's StreamableHTTPClientTransport), against the same real server: the same
// behaviour on a representative set. Then what only the native client promises: connections the pool owns
// (bounded, closed at shutdown) and Node's global dispatcher left alone.
import { execFile } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as z from 'zod';
import { McpPool, type McpPoolOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { textOf, until } from '../support/pids';

let server: TestHttpServer;
let pool: McpPool | undefined;
const servers: Array<{ registerTool: (...args: never[]) => unknown }> = [];

function makePool(options: Partial<McpPoolOptions>): McpPool {
  pool = new McpPool({ name: 'http-clients', endpoint: server.url, minSessions: 1, maxSessions: 2, healthCheckIntervalMs: 0, callTimeoutMs: 20_000, ...options });
  return pool;
}

beforeEach(async () => {
  servers.length = 0;
  server = await startHttpMcpServer({ configureServer: (s) => servers.push(s as never) });
});
afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  await server.close();
});

async function whoami(p: McpPool, headers: Record<string, string>): Promise<{ headers: Record<string, string>; sessionId?: string }> {
  return JSON.parse(textOf(await p.callTool('whoami', {}, { headers }))) as { headers: Record<string, string>; sessionId?: string };
}

/**
 * A real HTTP server in front of the fixture: `/old` answers `status` with a Location of `/mcp` on this same
 * origin (or on `elsewhere`), and `/mcp` is proxied to the fixture as it is, streams included.
 */
async function redirector(status: number, elsewhere?: string): Promise<{ url: (path: string) => URL; close: () => Promise<void> }> {
  const front: Server = createServer((req, res) => {
    if (req.url?.startsWith('/old')) {
      res.writeHead(status, { location: elsewhere ?? '/mcp' }).end();
      return;
    }
    const upstream = request(new URL(req.url ?? '/', server.url), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const port = (front.address() as AddressInfo).port;
  return {
    url: (path) => new URL(`http://127.0.0.1:${port}${path}`),
    close: () => new Promise((resolve) => {
      front.closeAllConnections();
      front.close(() => resolve());
    }),
  };
}

describe.each(['native', 'sdk'] as const)("httpClient '%s'", (httpClient) => {
  it('follows a 307 within the endpoint’s origin, and refuses a redirect to another origin, naming it', async () => {
    const same = await redirector(307);
    const other = await redirector(307, `${server.url.origin}/mcp`);
    try {
      const p = makePool({ httpClient, endpoint: same.url('/old'), maxSessions: 1 });
      await p.start();
      expect(await p.callTool('echo', { text: 'moved' })).toMatchObject({ content: [{ text: 'moved' }] });
      await p.shutdown();
      const q = makePool({ httpClient, name: 'elsewhere', endpoint: other.url('/old'), minSessions: 0, maxSessions: 1, failFast: false, acquireTimeoutMs: 2000 });
      await q.start();
      const err = await q.callTool('echo', { text: 'x' }).catch((e: unknown) => e);
      expect(String((err as Error).cause ?? err)).toMatch(/Redirect to http:\/\/127\.0\.0\.1:\d+\/mcp not followed/);
    } finally {
      await pool?.shutdown();
      await same.close();
      await other.close();
    }
  });


  it('calls tools on a warm session, SSE and JSON responses alike', async () => {
    const p = makePool({ httpClient });
    await p.start();
    expect(await p.callTool('echo', { text: 'hi' })).toMatchObject({ content: [{ type: 'text', text: 'hi' }] });
    await server.close();
    server = await startHttpMcpServer({ enableJsonResponse: true });
    const q = makePool({ httpClient, name: 'json' });
    await p.shutdown();
    await q.start();
    expect(await q.callTool('echo', { text: 'json' })).toMatchObject({ content: [{ text: 'json' }] });
    expect(server.stats.initializeCount).toBe(1);
  });

  it('sends the session id and the negotiated protocol version on every request after initialize, and DELETEs on close', async () => {
    const p = makePool({ httpClient, maxSessions: 1 });
    await p.start();
    await p.callTool('echo', { text: 'x' });
    await p.shutdown();
    const [init, ...rest] = server.stats.requestLog;
    expect(init).toMatchObject({ verb: 'POST', sessionId: undefined });
    expect(rest.length).toBeGreaterThanOrEqual(4); // initialized, GET stream, tools/list, tools/call, DELETE
    expect(rest.filter((r) => !r.sessionId || r.headers['mcp-protocol-version'] !== '2025-11-25')).toEqual([]);
    expect(rest.map((r) => r.verb)).toEqual(expect.arrayContaining(['GET', 'DELETE']));
  });

  it('keeps 200 concurrent distinct per-request headers apart on one shared session', async () => {
    const p = makePool({ httpClient, maxSessions: 1, maxConcurrentPerSession: 64 });
    await p.start();
    const seen = await Promise.all(Array.from({ length: 200 }, (_, i) => whoami(p, { 'x-request-id': `r-${i}` }).then((w) => w.headers['x-request-id'])));
    expect(seen.filter((v, i) => v !== `r-${i}`)).toEqual([]);
  });

  it('fails a call at once when its response stream ends without the response', async () => {
    const p = makePool({ httpClient, maxSessions: 1 });
    await p.start();
    const call = p.callTool('sleep', { ms: 10_000 }).catch((e: unknown) => e);
    await until(() => server.recorder.inFlight === 1, 2000, 'the call to reach the server');
    const started = Date.now();
    await server.forgetSessions();
    expect(await call).toMatchObject({ name: 'SessionLostError', mayHaveRun: true });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rebuilds a session the server forgot (404 on its id) without the caller seeing an error', async () => {
    const p = makePool({ httpClient, maxSessions: 1 });
    await p.start();
    await server.forgetSessions();
    expect(await p.callTool('write', { key: 'k', value: 'v' })).toMatchObject({ content: [{ type: 'text' }] });
    expect(server.stats.initializeCount).toBe(2);
  });

  it('says a call refused at connect time did not run', async () => {
    const p = makePool({ httpClient, maxSessions: 1, connectTimeoutMs: 1000, acquireTimeoutMs: 1500, retryBaseDelayMs: 10 });
    await p.start();
    await server.stop();
    // Let the client see its kept-alive connection closed: the next request must connect, and be refused.
    await new Promise((r) => setTimeout(r, 200));
    const err = await p.callTool('write', { key: 'k', value: 'v' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { mayHaveRun?: boolean }).mayHaveRun).not.toBe(true);
    expect(server.recorder.toolCalls.get('write') ?? 0).toBe(0);
  });

  it('hears list_changed on the GET stream of a session just handed out', async () => {
    const p = makePool({ httpClient, maxSessions: 1, toolCacheTtlMs: 600_000 });
    await p.start();
    expect((await p.listTools()).some((t) => t.name === 'fresh')).toBe(false);
    for (const s of servers) (s as unknown as { registerTool: (n: string, c: object, h: () => Promise<object>) => void }).registerTool('fresh', { inputSchema: { x: z.string() } }, async () => ({ content: [] }));
    let tools = await p.listTools();
    for (let i = 0; i < 100 && !tools.some((t) => t.name === 'fresh'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      tools = await p.listTools();
    }
    expect(tools.some((t) => t.name === 'fresh')).toBe(true);
  });
});

describe("httpClient 'native' only", () => {
  it('bounds the connections for requests by maxConnections (the GET stream has its own)', async () => {
    const p = makePool({ maxSessions: 1, maxConcurrentPerSession: 16, maxConnections: 2 });
    await p.start();
    const before = server.stats.tcpConnections;
    await Promise.all(Array.from({ length: 16 }, () => p.callTool('sleep', { ms: 50 })));
    expect(server.stats.tcpConnections - before).toBeLessThanOrEqual(1); // one more beside the warm-up's
    await p.shutdown();
    // Without the bound the same calls open a connection each.
    const q = makePool({ name: 'unbounded', maxSessions: 1, maxConcurrentPerSession: 16 });
    await q.start();
    const start = server.stats.tcpConnections;
    await Promise.all(Array.from({ length: 16 }, () => q.callTool('sleep', { ms: 50 })));
    expect(server.stats.tcpConnections - start).toBeGreaterThan(8);
  });

  it('leaves no socket open after shutdown', async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    // Sockets of earlier tests (the SDK client's fetch keeps its own alive) may still be closing.
    const baseline = sockets();
    const p = makePool({ minSessions: 2, maxSessions: 2, maxConcurrentPerSession: 8 });
    await p.start();
    await Promise.all(Array.from({ length: 16 }, () => p.callTool('echo', { text: 'x' })));
    expect(sockets()).toBeGreaterThan(baseline);
    await p.shutdown();
    // Both ends live in this process: the server's side closes as soon as the client's has.
    await until(() => sockets() <= baseline, 2000, 'every socket to close');
  });

  // Both drivers that own undici connections: the native transport (legacy) and the v2 client's ('auto').
  it.each(['legacy', 'auto'])("leaves Node's global dispatcher (what fetch uses) alone, imported and in use (protocol '%s')", async (protocol) => {
    const probe = join(__dirname, '../fixtures/global-dispatcher-probe.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', probe, server.url.href, protocol], { timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual({ afterImport: 'none', afterUse: 'node', fetchWorks: true, called: 'ok', era: 'legacy' });
  });
});

// Fault injection over Streamable HTTP: each scenario runs concurrent callers against a real server that
// misbehaves, and checks that every call settles exactly once (a result or a typed pool error), that the
// pool recovers to full health, and that shutdown leaves nothing behind.
import { createServer, type Server, type Socket } from 'node:net';
import { McpAuthError, McpPool, PoolUnavailableError, SessionCreateError, type McpPoolOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { expectLeasesBalanced, startLoad } from '../support/load';
import { until } from '../support/pids';

let server: TestHttpServer | undefined;
let pool: McpPool | undefined;

function makePool(url: URL | string, options: Partial<McpPoolOptions> = {}): McpPool {
  pool = new McpPool({
    name: 'faults',
    endpoint: url,
    minSessions: 2,
    maxSessions: 4,
    acquireTimeoutMs: 2000,
    callTimeoutMs: 3000,
    connectTimeoutMs: 2000,
    healthCheckIntervalMs: 0,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 200,
    recoveryTimeoutMs: 300,
    ...options,
  });
  return pool;
}

afterEach(async () => {
  await pool?.shutdown();
  await server?.close();
  pool = server = undefined;
});

async function expectFullHealth(p: McpPool, minSessions: number): Promise<void> {
  await until(() => p.metrics.snapshot().total >= minSessions, 5000, 'pool to refill');
  expect((await p.checkHealth({ timeoutMs: 2000 })).status).toBe('up');
}

it('1. server killed under load and restarted on the same port: every call settles, the pool recovers', async () => {
  server = await startHttpMcpServer();
  const p = makePool(server.url);
  await p.start();
  const load = startLoad(8, () => p.callTool('sleep', { ms: 20 }));
  await until(() => load.report.ok > 20, 5000, 'load to run');
  await server.stop();
  await new Promise((r) => setTimeout(r, 200));
  await server.restart();
  const okAtRestart = load.report.ok;
  await until(() => load.report.ok > okAtRestart + 30, 10_000, 'calls to succeed again');
  const report = await load.stop();
  expect(report.untyped).toEqual([]);
  expect(report.unsettled).toBe(0);
  expectLeasesBalanced(p);
  await expectFullHealth(p, 2);
  expect(p.metrics.snapshot().sessionsDestroyed).toBeGreaterThanOrEqual(2);
});

it('1b. calls in flight when the server dies fail at once with SessionLostError, not at their timeout', async () => {
  server = await startHttpMcpServer();
  const p = makePool(server.url, { minSessions: 1, maxSessions: 1, callTimeoutMs: 30_000 });
  await p.start();
  const call = p.callTool('sleep', { ms: 10_000 }).catch((e: unknown) => e);
  await until(() => server!.recorder.inFlight === 1, 2000, 'the call to reach the server');
  await server.stop();
  const err = await call;
  // A SessionLostError, not the CallTimeoutError the SDK would give at the call's 30 s deadline.
  expect(err).toMatchObject({ name: 'SessionLostError', mayHaveRun: true });
});

it('1c. a server that drops its sessions mid-call (forgets them) fails those calls at once', async () => {
  server = await startHttpMcpServer();
  const p = makePool(server.url, { minSessions: 1, maxSessions: 2, callTimeoutMs: 30_000 });
  await p.start();
  const call = p.callTool('sleep', { ms: 10_000 }).catch((e: unknown) => e);
  await until(() => server!.recorder.inFlight === 1, 2000, 'the call to reach the server');
  await server.forgetSessions();
  expect(await call).toMatchObject({ name: 'SessionLostError' });
  expect(await p.callTool('echo', { text: 'ok' })).toMatchObject({ content: [{ text: 'ok' }] });
});

it('2. a server answering 400 "no valid session" for unknown ids: sessions are rebuilt, calls succeed', async () => {
  server = await startHttpMcpServer();
  server.setUnknownSessionStatus(400);
  const p = makePool(server.url);
  await p.start();
  const load = startLoad(6, () => p.callTool('echo', { text: 'x' }));
  await until(() => load.report.ok > 20, 5000, 'load');
  await server.forgetSessions();
  const okBefore = load.report.ok;
  await until(() => load.report.ok > okBefore + 30, 5000, 'recovery');
  const report = await load.stop();
  expect(report.untyped).toEqual([]);
  // An unknown session rejects the call before it runs: safe to retry, so callers see no error at all.
  expect(report.errors).toEqual({});
  await expectFullHealth(p, 2);
});

it('4. a hung server: calls time out, hung sessions are evicted, the pool serves once the server answers', async () => {
  server = await startHttpMcpServer();
  const p = makePool(server.url, { minSessions: 1, maxSessions: 2, callTimeoutMs: 100, acquireTimeoutMs: 1000, connectTimeoutMs: 500 });
  await p.start();
  server.setHang(true);
  const load = startLoad(4, () => p.callTool('echo', { text: 'x' }));
  // Three timeouts in a row mark a session hung: it is evicted (its replacement hangs in connect until
  // connectTimeoutMs, so callers now time out waiting for a slot).
  await until(() => p.metrics.snapshot().sessionsDestroyed >= 1, 5000, 'eviction of a hung session');
  expect(load.report.errors.CallTimeoutError).toBeGreaterThanOrEqual(3);
  server.setHang(false);
  const okBefore = load.report.ok;
  await until(() => load.report.ok > okBefore + 20, 10_000, 'recovery');
  const report = await load.stop();
  expect(report.untyped).toEqual([]);
  expect(report.unsettled).toBe(0);
  expectLeasesBalanced(p);
  await expectFullHealth(p, 1);
});

it('5. endpoint unreachable from the start with 100 waiters: serialised backoff, circuit opens, rejects fast, recovers', async () => {
  // A TCP endpoint that resets every connection (and counts them): nothing MCP ever answers there.
  const port = await freePort();
  let connections = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const sockets = new Set<Socket>();
  const refuser: Server = createServer((socket) => {
    connections++;
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    sockets.add(socket);
    socket.on('close', () => {
      concurrent--;
      sockets.delete(socket);
    });
    socket.resetAndDestroy();
  });
  await new Promise<void>((r) => refuser.listen(port, '127.0.0.1', r));
  const url = `http://127.0.0.1:${port}/mcp`;
  const p = makePool(url, { failureThreshold: 5, retryBaseDelayMs: 50, retryMaxDelayMs: 400, recoveryTimeoutMs: 500, acquireTimeoutMs: 10_000 });
  await p.start();
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => p.callTool('echo', { text: 'x' })));
  expect(results.every((r) => r.status === 'rejected' && r.reason instanceof PoolUnavailableError)).toBe(true);
  expect(p.circuitState).toBe('open');
  // At most one creation in flight, and the attempt count depends on failureThreshold, not on 100 waiters.
  expect(maxConcurrent).toBe(1);
  expect(connections).toBeLessThanOrEqual(6);
  // While open, new callers are rejected at once: before the next turn of the event loop.
  await expect(Promise.race([p.callTool('echo', { text: 'x' }), new Promise((r) => setImmediate(() => r('still pending')))])).rejects.toThrow(
    PoolUnavailableError,
  );
  // The server comes up on that port: the half-open probe succeeds and the pool serves.
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => refuser.close(() => r()));
  server = await startHttpMcpServer({ port });
  await until(() => p.circuitState !== 'open', 2000, 'half-open');
  expect(await p.callTool('echo', { text: 'up' })).toMatchObject({ content: [{ text: 'up' }] });
  await expectFullHealth(p, 2);
});

it('6. a 401 gives a clear auth error at once, with no reconnect storm', async () => {
  server = await startHttpMcpServer();
  server.setRequireAuth('right-token');
  const p = makePool(server.url, { auth: 'wrong-token' });
  await p.start();
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => p.callTool('echo', { text: 'x' })));
  expect(results.every((r) => r.status === 'rejected' && r.reason instanceof McpAuthError)).toBe(true);
  const err = (results[0] as PromiseRejectedResult).reason as McpAuthError;
  expect(err.message).toMatch(/rejected the credentials \(HTTP 401\)/);
  expect(err.message).not.toMatch(/wrong-token/);
  // One attempt at warm-up, then at most one per round of callers: not one per caller, not a loop.
  const attempts = server.stats.httpRequests;
  await new Promise((r) => setTimeout(r, 300));
  expect(server.stats.httpRequests).toBe(attempts);
  expect(attempts).toBeLessThanOrEqual(3);
  expect(p.circuitState).toBe('closed');
});

it('7. a non-MCP endpoint (HTML with 200): a clear error at creation, not a hang', async () => {
  server = await startHttpMcpServer();
  server.setHtmlMode(true);
  const p = makePool(server.url, { minSessions: 1, failFast: true });
  const err = await p.start().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SessionCreateError);
  // The content-type error, not "connect timed out": it failed on the answer, it did not hang.
  expect((err as Error).message).toMatch(/could not create an MCP session: .*(content type|text\/html)/i);
});

it('8. shutdown in the middle of a failing server leaves nothing pending', async () => {
  server = await startHttpMcpServer();
  const p = makePool(server.url, { drainTimeoutMs: 200 });
  await p.start();
  const load = startLoad(8, () => p.callTool('sleep', { ms: 30 }), 0);
  await until(() => load.report.ok > 10, 5000, 'load');
  server.setHang(true);
  await new Promise((r) => setTimeout(r, 50));
  await p.shutdown();
  const report = await load.stop();
  expect(report.untyped).toEqual([]);
  expect(report.unsettled).toBe(0);
  expectLeasesBalanced(p);
  expect(p.metrics.snapshot()).toMatchObject({ total: 0, inFlight: 0, waiting: 0, creating: 0 });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

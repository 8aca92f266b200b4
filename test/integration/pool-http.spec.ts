// The pool against a real MCP server (the SDK's McpServer over Streamable HTTP on 127.0.0.1:0).
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  AcquireTimeoutError,
  CallTimeoutError,
  McpPool,
  McpServerError,
  OperationAbortedError,
  PoolClosedError,
  type McpPoolOptions,
} from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { textOf } from '../support/pids';

let server: TestHttpServer;
let pool: McpPool;

async function startPool(options: Partial<McpPoolOptions> = {}): Promise<McpPool> {
  pool = new McpPool({ name: 'http', endpoint: server.url, minSessions: 2, maxSessions: 4, healthCheckIntervalMs: 0, ...options });
  await pool.start();
  return pool;
}

beforeEach(async () => {
  server = await startHttpMcpServer();
});
afterEach(async () => {
  await pool?.shutdown();
  await server.close();
});

it('warms minSessions at start: each is a real initialized MCP session', async () => {
  await startPool();
  expect(server.stats.initializeCount).toBe(2);
  expect(server.activeSessions()).toBe(2);
  expect(pool.metrics.snapshot()).toMatchObject({ total: 2, idle: 2, sessionsCreated: 2 });
});

it('borrows and returns a session; calls run on warm sessions without new handshakes', async () => {
  await startPool();
  const sessionId = await pool.session(async (lease) => {
    expect(textOf(await lease.callTool('echo', { text: 'hi' }))).toBe('hi');
    return lease.sessionId;
  });
  expect(server.sessionIds()).toContain(sessionId);
  for (let i = 0; i < 10; i++) await pool.callTool('echo', { text: String(i) });
  expect(server.stats.initializeCount).toBe(2);
  expect(pool.metrics.snapshot()).toMatchObject({ inFlight: 0, borrowCount: 11, returnCount: 11 });
});

it('supports `await using` on a lease', async () => {
  await startPool();
  {
    await using lease = await pool.acquire();
    expect(textOf(await lease.callTool('echo', { text: 'using' }))).toBe('using');
    expect(pool.metrics.snapshot().inFlight).toBe(1);
  }
  expect(pool.metrics.snapshot().inFlight).toBe(0);
});

it('runs concurrent calls on at most maxSessions exclusive sessions', async () => {
  await startPool({ minSessions: 1, maxSessions: 3 });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.callTool('sleep', { ms: 30 }).then(() => i)));
  expect(results).toHaveLength(12);
  expect(server.stats.initializeCount).toBeLessThanOrEqual(3);
  expect(server.recorder.maxInFlight).toBe(3);
});

it('shares one session among concurrent leases with maxConcurrentPerSession > 1', async () => {
  await startPool({ minSessions: 1, maxSessions: 1, maxConcurrentPerSession: 8 });
  // Long enough for all 8 to overlap on a loaded machine: each concurrent POST opens a connection of its own.
  await Promise.all(Array.from({ length: 8 }, () => pool.callTool('sleep', { ms: 300 })));
  expect(server.recorder.maxInFlight).toBe(8);
  expect(new Set(server.recorder.callsOf('sleep').map((c) => c.sessionId)).size).toBe(1);
});

it('times out a waiter when every session is busy', async () => {
  await startPool({ minSessions: 1, maxSessions: 1 });
  const busy = pool.callTool('sleep', { ms: 200 });
  await expect(pool.callTool('echo', { text: 'x' }, { acquireTimeoutMs: 50 })).rejects.toThrow(AcquireTimeoutError);
  await busy;
});

it('aborts a waiter by signal, and a running call by signal (the server sees the cancellation)', async () => {
  await startPool({ minSessions: 1, maxSessions: 1 });
  const ac = new AbortController();
  const running = pool.callTool('sleep', { ms: 5000 }, { signal: ac.signal });
  const waiterAc = new AbortController();
  const waiting = pool.callTool('echo', { text: 'x' }, { signal: waiterAc.signal });
  waiterAc.abort();
  await expect(waiting).rejects.toThrow(OperationAbortedError);
  await new Promise((r) => setTimeout(r, 50)); // let the sleep start on the server
  ac.abort();
  await expect(running).rejects.toThrow(OperationAbortedError);
  const deadline = Date.now() + 2000;
  while (server.recorder.cancellations === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(server.recorder.cancellations).toBe(1);
  // the session is still healthy
  expect(textOf(await pool.callTool('echo', { text: 'after' }))).toBe('after');
  expect(pool.metrics.snapshot().sessionsDestroyed).toBe(0);
});

it('cancels a call at its timeoutMs with a typed error', async () => {
  await startPool({ minSessions: 1 });
  const err = await pool.callTool('sleep', { ms: 2000 }, { timeoutMs: 50 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CallTimeoutError);
  expect((err as CallTimeoutError).message).toMatch(/tools\/call timed out after 50 ms/);
  expect(pool.metrics.snapshot().callTimeouts).toBe(1);
});

it('keeps the session after a JSON-RPC error or an isError result', async () => {
  await startPool({ minSessions: 1, maxSessions: 1 });
  const failed = await pool.callTool('fail');
  expect(failed.isError).toBe(true);
  const err = await pool.session((l) => l.listPrompts()).catch((e: unknown) => e);
  // Method not found: the server's answer, as the library's own type (the SDK's error is the cause).
  expect(err).toBeInstanceOf(McpServerError);
  expect(err).toMatchObject({ code: -32601, method: 'prompts/list' });
  expect((err as McpServerError).cause).toBeInstanceOf(McpError);
  expect(textOf(await pool.callTool('echo', { text: 'still here' }))).toBe('still here');
  expect(pool.metrics.snapshot()).toMatchObject({ sessionsCreated: 1, sessionsDestroyed: 0 });
});

it('recovers when the server forgets every session (404): the next call works on a new session', async () => {
  await startPool({ minSessions: 2 });
  await server.forgetSessions();
  expect(textOf(await pool.callTool('echo', { text: 'again' }))).toBe('again');
  const snap = pool.metrics.snapshot();
  expect(snap.sessionsDestroyed).toBeGreaterThanOrEqual(1);
  expect(snap.retryAttempts).toBe(1);
});

it('recovers from the 400 "no valid session" form too', async () => {
  await startPool({ minSessions: 1, maxSessions: 1 });
  server.setUnknownSessionStatus(400);
  await server.forgetSessions();
  // `write` is not safe to repeat, but a rejected unknown session certainly did not run it: retried.
  expect(textOf(await pool.callTool('write', { key: 'k', value: 'once' }))).toContain('once');
  expect(server.recorder.count('write')).toBe(1);
});

it('lists all tools from the cache that warm-up filled, without another tools/list', async () => {
  await startPool({ minSessions: 1 });
  const before = server.stats.requestsByMethod['tools/list'] ?? 0;
  expect(before).toBe(1); // each new session lists its tools once (the SDK then validates structured output)
  const tools = await pool.listTools();
  expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'sleep', 'whoami']));
  await pool.listTools();
  expect(server.stats.requestsByMethod['tools/list']).toBe(before);
  expect(pool.metrics.snapshot()).toMatchObject({ cacheHits: 2, cacheMisses: 0 });
});

it('on shutdown lets in-flight calls finish, refuses new ones, and deletes its sessions on the server', async () => {
  await startPool({ minSessions: 2 });
  const inflight = [pool.callTool('sleep', { ms: 150 }), pool.callTool('sleep', { ms: 150 })];
  await new Promise((r) => setTimeout(r, 30));
  const closing = pool.shutdown();
  await expect(pool.callTool('echo', { text: 'late' })).rejects.toThrow(PoolClosedError);
  const results = await Promise.all(inflight);
  expect(results.every((r) => textOf(r) === 'slept')).toBe(true);
  await closing;
  expect(server.stats.sessionsDeleted).toBe(2);
  expect(server.activeSessions()).toBe(0);
});

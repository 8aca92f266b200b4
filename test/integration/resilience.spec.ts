// Resilience features over real servers: safe retries, custom health probes, leak detection, and no
// listener leak on a long-lived caller signal.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getEventListeners } from 'node:events';
import * as z from 'zod';
import { McpPool, SessionLostError, type McpPoolOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { textOf, until } from '../support/pids';

let server: TestHttpServer;
let pool: McpPool | undefined;

function makePool(options: Partial<McpPoolOptions> = {}): McpPool {
  pool = new McpPool({ name: 'resilience', endpoint: server.url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0, ...options });
  return pool;
}

beforeEach(async () => {
  server = await startHttpMcpServer({
    tools: (s, rec) => {
      // A slow tool the server declares read-only: safe to run twice.
      s.registerTool('slow_read', { inputSchema: { ms: z.number() }, annotations: { readOnlyHint: true } }, async ({ ms }) => {
        rec.toolCalls.set('slow_read', (rec.toolCalls.get('slow_read') ?? 0) + 1);
        await new Promise((r) => setTimeout(r, ms));
        return { content: [{ type: 'text', text: 'read' }] };
      });
    },
  });
});
afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  await server.close();
});

it('retries a read-only tool once on a fresh session when the session dies under it', async () => {
  const p = makePool();
  await p.start();
  const call = p.callTool('slow_read', { ms: 300 });
  await until(() => server.recorder.toolCalls.get('slow_read') === 1, 2000, 'the call to start');
  await server.stop();
  await server.restart();
  expect(textOf(await call)).toBe('read');
  expect(server.recorder.toolCalls.get('slow_read')).toBe(2);
  expect(p.metrics.snapshot().retryAttempts).toBe(1);
});

it('does not retry a tool that may have run and is not declared safe: the caller is told it may have run', async () => {
  const p = makePool();
  await p.start();
  const call = p.callTool('sleep', { ms: 300 }).catch((e: unknown) => e);
  await until(() => server.recorder.inFlight === 1, 2000, 'the call to start');
  await server.stop();
  await server.restart();
  const err = await call;
  expect(err).toBeInstanceOf(SessionLostError);
  expect((err as SessionLostError).mayHaveRun).toBe(true);
  expect((err as SessionLostError).message).toMatch(/may have run/);
  expect(p.metrics.snapshot().retryAttempts).toBe(0);
});

it('uses healthProbe instead of ping, and evicts the session when it fails', async () => {
  let healthy = true;
  const probed: string[] = [];
  const p = makePool({
    healthCheckIntervalMs: 30,
    healthProbe: async (lease) => {
      probed.push(textOf(await lease.callTool('echo', { text: 'probe' })));
      if (!healthy) throw new Error('not healthy');
    },
  });
  await p.start();
  await until(() => probed.length >= 1, 2000, 'a probe');
  expect(server.stats.requestsByMethod.ping ?? 0).toBe(0);
  healthy = false;
  await until(() => p.metrics.snapshot().healthCheckFailures >= 1, 2000, 'a failed probe');
  await until(() => p.metrics.snapshot().sessionsCreated >= 2, 2000, 'a replacement');
  expect(p.metrics.snapshot().sessionsDestroyed).toBeGreaterThanOrEqual(1);
});

it('warns with the borrower’s stack when a lease is held past leakDetectionThresholdMs', async () => {
  const warnings: string[] = [];
  const p = makePool({ leakDetectionThresholdMs: 30, logger: { log: () => undefined, warn: (m) => warnings.push(m), error: () => undefined } });
  await p.start();
  const lease = await p.acquire();
  await until(() => warnings.length > 0, 2000, 'the leak warning');
  expect(warnings[0]).toMatch(/held for more than 30 ms/);
  expect(warnings[0]).toMatch(/resilience\.spec\.ts/);
  lease.release();
  const quick = await p.acquire();
  quick.release();
  await new Promise((r) => setTimeout(r, 60));
  expect(warnings).toHaveLength(1);
});

it('keeps one listener on a caller signal shared by many concurrent calls, and none after them', async () => {
  const p = makePool({ maxConcurrentPerSession: 16 });
  await p.start();
  const shared = new AbortController();
  let most = 0;
  for (let batch = 0; batch < 2; batch++) {
    const calls = Array.from({ length: 16 }, () => p.callTool('sleep', { ms: 400 }, { signal: shared.signal }));
    await until(() => server.recorder.inFlight === 16, 2000, 'all 16 calls to be running');
    most = Math.max(most, getEventListeners(shared.signal, 'abort').length);
    await Promise.all(calls);
  }
  expect(most).toBe(1); // one listener for 16 concurrent calls: no MaxListenersExceededWarning
  expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
  // and the one listener still cancels every call linked to it
  const running = Array.from({ length: 3 }, () => p.callTool('sleep', { ms: 5000 }, { signal: shared.signal }).catch((e: unknown) => e));
  await until(() => server.recorder.inFlight === 3, 2000, 'the calls to start');
  shared.abort();
  for (const err of await Promise.all(running)) expect(err).toMatchObject({ name: 'OperationAbortedError' });
});

it('keeps the listeners on a busy HTTP session’s transport signal bounded (undici adds one per request otherwise)', async () => {
  // The SDK transport passes one long-lived signal to every fetch; the native one has none (next test).
  const p = makePool({ maxConcurrentPerSession: 16, httpClient: 'sdk' });
  await p.start();
  const lease = await p.acquire();
  // The SDK transport's own AbortController is private: read it only to count its listeners.
  const transportSignal = ((lease.client as Client).transport as unknown as { _abortController?: AbortController })._abortController!.signal;
  lease.release();
  for (let batch = 0; batch < 60; batch++) {
    await Promise.all(Array.from({ length: 16 }, () => p.callTool('echo', { text: 'x' })));
  }
  // 960 requests: without per-request linking this signal would hold hundreds of listeners until a GC.
  expect(getEventListeners(transportSignal, 'abort').length).toBeLessThanOrEqual(2);
});

it('holds no abort controller of a finished request on a busy native HTTP session, and aborts the GET stream on close', async () => {
  const p = makePool({ maxConcurrentPerSession: 16, drainTimeoutMs: 0 });
  await p.start();
  const lease = await p.acquire();
  // The native transport's per-request controllers are private: read them only to count them.
  const inflight = ((lease.client as Client).transport as unknown as { inflight: Set<AbortController> }).inflight;
  lease.release();
  const standalone = 1; // the GET stream's own request
  await until(() => inflight.size === standalone, 2000, 'the warm-up bodies to close');
  for (let batch = 0; batch < 60; batch++) {
    await Promise.all(Array.from({ length: 16 }, () => p.callTool('echo', { text: 'x' })));
  }
  await until(() => inflight.size === standalone, 2000, 'the last bodies to close');
  // The GET stream never ends by itself: the transport's close() must abort its request.
  const [getStream] = [...inflight];
  const transport = (lease.client as Client).transport!;
  await transport.close();
  expect(getStream!.signal.aborted).toBe(true);
  expect(inflight.size).toBe(0);
});

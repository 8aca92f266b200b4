// A pool and a server that share no protocol version: a configuration error, raised at once, never an
// outage to retry (no backoff loop, no circuit, no half-open probes forever).
import { McpPool, McpPoolConfigError, McpProtocolVersionError, McpServerError, type McpPoolOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { startV2HttpServer, type V2TestServer } from '../fixtures/v2-http-server';

let pool: McpPool | undefined;
afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
});

const makePool = (options: McpPoolOptions): McpPool => (pool = new McpPool({ name: 'eras', minSessions: 1, healthCheckIntervalMs: 0, ...options }));

describe('a legacy pool against a 2026-07-28-only server', () => {
  let server: V2TestServer;
  beforeEach(async () => {
    server = await startV2HttpServer({ era: 'modern' });
  });
  afterEach(() => server.close());

  it('fails start() with failFast with a McpProtocolVersionError naming the versions the server supports', async () => {
    const p = makePool({ endpoint: server.url, failFast: true });
    const error = (await p.start().catch((e: unknown) => e)) as McpProtocolVersionError;
    expect(error).toBeInstanceOf(McpProtocolVersionError);
    expect(error).toBeInstanceOf(McpPoolConfigError);
    expect(error.field).toBe('protocol');
    expect(error.supportedVersions).toEqual(['2026-07-28']);
    expect(error.requestedVersion).toBe('2025-11-25');
    expect(error.message).toContain("set protocol: 'auto'");
    expect(error.message).toContain('npm install @modelcontextprotocol/client');
  });

  it('without failFast, rejects every caller at once, keeps the circuit closed, and never tries again', async () => {
    const p = makePool({ endpoint: server.url, retryBaseDelayMs: 1, retryMaxDelayMs: 5, failureThreshold: 2, recoveryTimeoutMs: 20, recoveryInitialMs: 10 });
    await p.start();
    const attemptsAfterStart = server.stats.requestsByMethod['initialize'] ?? 0;
    expect(attemptsAfterStart).toBe(1);
    const t0 = Date.now();
    const errors = await Promise.all(Array.from({ length: 20 }, () => p.callTool('echo', { text: 'x' }).catch((e: unknown) => e)));
    expect(Date.now() - t0).toBeLessThan(1000);
    for (const e of errors) expect(e).toBeInstanceOf(McpProtocolVersionError);
    // Long enough for several backoff attempts and half-open probes, had the error been treated as an outage.
    await new Promise((r) => setTimeout(r, 200));
    expect(server.stats.requestsByMethod['initialize'] ?? 0).toBe(attemptsAfterStart);
    expect(p.circuitState).toBe('closed');
    const health = await p.checkHealth();
    expect(health.status).toBe('down');
    expect(health.reason).toContain('2026-07-28');
  });

  it("works with protocol: 'auto' on the same server", async () => {
    const p = makePool({ endpoint: server.url, protocol: 'auto', failFast: true });
    await p.start();
    expect(p.protocolEra).toBe('modern');
  });
});

describe("a 'modern' pool against an SDK 1.32 (2025-era) server", () => {
  let server: TestHttpServer;
  beforeEach(async () => {
    server = await startHttpMcpServer();
  });
  afterEach(() => server.close());

  it('fails start() with failFast with a McpProtocolVersionError, and never falls back to initialize', async () => {
    const p = makePool({ endpoint: server.url, protocol: 'modern', failFast: true });
    const error = (await p.start().catch((e: unknown) => e)) as McpProtocolVersionError;
    expect(error).toBeInstanceOf(McpProtocolVersionError);
    expect(error.requestedVersion).toBe('2026-07-28');
    expect(server.stats.initializeCount).toBe(0);
  });
});

describe('errors of the 2026-07-28 era', () => {
  let server: V2TestServer;
  beforeEach(async () => {
    server = await startV2HttpServer({ era: 'modern' });
  });
  afterEach(() => server.close());

  it('an unknown method is a call error (404 / -32601), not a lost session', async () => {
    const p = makePool({ endpoint: server.url, protocol: 'modern' });
    await p.start();
    const error = (await p.session((l) => l.getPrompt('nope')).catch((e: unknown) => e)) as McpServerError;
    expect(error).toBeInstanceOf(McpServerError);
    expect(error.code).toBe(-32601);
    expect(p.metrics.snapshot().sessionsDestroyed).toBe(0);
  });

  it('a health probe is server/discover, never a ping', async () => {
    const p = makePool({ endpoint: server.url, protocol: 'modern', healthCheckIntervalMs: 50 });
    await p.start();
    const discovers = server.stats.requestsByMethod['server/discover'] ?? 0;
    await new Promise((r) => setTimeout(r, 300));
    expect(server.stats.requestsByMethod['server/discover'] ?? 0).toBeGreaterThan(discovers);
    expect(server.stats.requestsByMethod['ping']).toBeUndefined();
    expect(p.metrics.snapshot().healthCheckFailures).toBe(0);
    expect(p.metrics.snapshot().sessionsDestroyed).toBe(0);
  });
});

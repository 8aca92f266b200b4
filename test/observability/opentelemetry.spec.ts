// OpenTelemetry against a real server with the SDK's in-memory exporter and a metric reader: spans and
// metrics for calls, errors and timeouts, and the trace context the server receives.
import { Injectable, Module } from '@nestjs/common';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { InjectMcpPool, McpPool, McpPoolModule, McpPoolRegistry, runWithMcpHeaders, type McpPoolOptions } from '../../lib';
import { instrumentMcpPool, openTelemetryInstrumentation } from '../../lib/opentelemetry';
import { initNestContext } from '../e2e/support/nest-app';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { textOf } from '../support/pids';
import { CollectingReader, disableOtelGlobals, histogramCount, pointsOf, startOtel, valueOf, type OtelHarness } from './support/otel';
import { SCENARIO, runScenario } from './support/scenario';

let server: TestHttpServer;
const pools: McpPool[] = [];

function newPool(options: Partial<McpPoolOptions> = {}): McpPool {
  const pool = new McpPool({ name: 'otel', endpoint: server.url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0, ...options });
  pools.push(pool);
  return pool;
}

/** What the server's whoami tool saw. */
async function whoami(pool: McpPool): Promise<{ sessionId: string; headers: Record<string, string> }> {
  return JSON.parse(textOf(await pool.callTool('whoami'))) as { sessionId: string; headers: Record<string, string> };
}

const traceparentOf = (span: Pick<Span, 'spanContext'>) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;

beforeAll(() => disableOtelGlobals()); // start from the API's no-op state
beforeEach(async () => {
  server = await startHttpMcpServer();
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.shutdown()));
  await server.close();
});

describe('without an OpenTelemetry SDK', () => {
  it('does nothing: calls work, no header is added, nothing is recorded', async () => {
    const pool = newPool({ instrumentation: openTelemetryInstrumentation() });
    instrumentMcpPool(pool);
    await pool.start();
    const seen = await whoami(pool);
    expect(seen.headers.traceparent).toBeUndefined();
    expect(seen.headers.tracestate).toBeUndefined();
    await expect(pool.listPrompts()).rejects.toMatchObject({ code: -32601 });
    expect(pool.metrics.snapshot()).toMatchObject({ calls: 2, callErrors: 1 });
  });
});

describe('with the SDK registered', () => {
  let otel: OtelHarness;
  beforeEach(() => {
    otel = startOtel({ globalMeter: true });
  });
  afterEach(async () => {
    await otel.close();
  });

  const clientSpans = (): ReadableSpan[] => otel.spans.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);

  it('traces each request as a CLIENT span and sends that span as the trace parent to the server', async () => {
    const pool = newPool({ instrumentation: openTelemetryInstrumentation() });
    await pool.start();
    const tracer = trace.getTracer('test');
    let parent: Span | undefined;
    const seen = await tracer.startActiveSpan('handle request', async (span) => {
      parent = span;
      try {
        return await whoami(pool);
      } finally {
        span.end();
      }
    });

    const [client] = clientSpans();
    expect(clientSpans()).toHaveLength(1);
    expect(client!.name).toBe('tools/call whoami');
    expect(client!.spanContext().traceId).toBe(parent!.spanContext().traceId);
    expect(client!.parentSpanContext?.spanId).toBe(parent!.spanContext().spanId);
    expect(client!.attributes).toEqual({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'whoami',
      'gen_ai.operation.name': 'execute_tool',
      'mcp.session.id': server.sessionIds()[0],
      'mcp.protocol.era': 'legacy',
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
      'mcp.client.connection.pool.name': 'otel',
    });
    expect(client!.status.code).toBe(SpanStatusCode.UNSET);
    expect(client!.instrumentationScope.name).toBe('nestjs-mcp-pool');
    // The server received the client span as its parent: same trace, the client span's id.
    expect(seen.headers.traceparent).toBe(traceparentOf(client!));
    expect(server.recorder.lastCall('whoami')!.headers.traceparent).toBe(traceparentOf(client!));

    // Without an active span the request starts a trace of its own.
    otel.spans.reset();
    const alone = await whoami(pool);
    const [root] = clientSpans();
    expect(root!.parentSpanContext).toBeUndefined();
    expect(alone.headers.traceparent).toBe(traceparentOf(root!));
  });

  it('gives every request of the scripted sequence one span, with error.type and status ERROR on failures', async () => {
    const pool = newPool({ instrumentation: openTelemetryInstrumentation() });
    await pool.start();
    await runScenario(pool);
    await pool.callTool('fail'); // a tool result with isError: true

    const spans = clientSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(
      ['tools/call echo', 'tools/call echo', 'tools/call echo', 'prompts/list', 'tools/call sleep', 'tools/list', 'tools/call fail'].sort(),
    );
    const byName = (name: string) => spans.filter((s) => s.name === name);

    for (const echo of byName('tools/call echo')) {
      expect(echo.status.code).toBe(SpanStatusCode.UNSET);
      expect(echo.attributes['error.type']).toBeUndefined();
    }
    const [prompts] = byName('prompts/list');
    expect(prompts!.attributes).toMatchObject({ 'mcp.method.name': 'prompts/list', 'error.type': '-32601', 'rpc.response.status_code': '-32601' });
    expect(prompts!.attributes['gen_ai.tool.name']).toBeUndefined();
    expect(prompts!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/Method not found/) });
    const [sleep] = byName('tools/call sleep');
    expect(sleep!.attributes).toMatchObject({ 'gen_ai.tool.name': 'sleep', 'error.type': 'timeout' });
    expect(sleep!.attributes['rpc.response.status_code']).toBeUndefined();
    expect(sleep!.status.code).toBe(SpanStatusCode.ERROR);
    expect(sleep!.duration[0] * 1000 + sleep!.duration[1] / 1e6).toBeGreaterThanOrEqual(49);
    const [fail] = byName('tools/call fail');
    expect(fail!.attributes['error.type']).toBe('tool_error');
    expect(fail!.status.code).toBe(SpanStatusCode.ERROR);
    expect(byName('tools/list')[0]!.status.code).toBe(SpanStatusCode.UNSET);

    // Each echo reached the server with the trace context of its own span.
    expect(server.recorder.callsOf('echo').map((c) => c.headers.traceparent).sort()).toEqual(byName('tools/call echo').map(traceparentOf).sort());
    // The acquire timeout sent nothing, so it has no span; the cached tools/list had none either.
    expect(spans).toHaveLength(SCENARIO.calls + 1);
  });

  it("keeps concurrent callers' trace contexts apart on one shared session", async () => {
    const pool = newPool({ maxConcurrentPerSession: 20, instrumentation: openTelemetryInstrumentation() });
    await pool.start();
    const tracer = trace.getTracer('test');
    const parents = new Map<string, Span>();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        tracer.startActiveSpan(`request ${i}`, async (span) => {
          parents.set(String(i), span);
          try {
            await pool.callTool('echo', { text: String(i) });
          } finally {
            span.end();
          }
        }),
      ),
    );
    expect(new Set(server.recorder.callsOf('echo').map((c) => c.sessionId)).size).toBe(1);
    const spanByTrace = new Map(clientSpans().map((s) => [s.spanContext().traceId, s]));
    for (const call of server.recorder.callsOf('echo')) {
      const parent = parents.get((call.args as { text: string }).text)!;
      const client = spanByTrace.get(parent.spanContext().traceId)!;
      expect(client.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      expect(call.headers.traceparent).toBe(traceparentOf(client));
    }
  });

  it('leaves the trace context and the session id out when asked', async () => {
    const pool = newPool({ instrumentation: openTelemetryInstrumentation({ propagateContext: false, recordSessionId: false }) });
    await pool.start();
    const seen = await whoami(pool);
    expect(seen.headers.traceparent).toBeUndefined();
    const [span] = clientSpans();
    expect(span!.attributes['mcp.session.id']).toBeUndefined();
    expect(span!.attributes['mcp.method.name']).toBe('tools/call');
  });

  it('records the connection-pool metrics and request durations for calls, errors and timeouts', async () => {
    const pool = newPool({ instrumentation: openTelemetryInstrumentation() });
    const handle = instrumentMcpPool(pool); // before start: the warm-up session is timed
    expect(instrumentMcpPool(pool)).toBe(handle);
    await pool.start();
    await runScenario(pool);

    const all = await otel.collect();
    const pool_ = { 'mcp.client.connection.pool.name': 'otel' };
    expect(valueOf(all, 'mcp.client.connection.count', { ...pool_, 'mcp.client.connection.state': 'idle' })).toBe(1);
    expect(valueOf(all, 'mcp.client.connection.count', { ...pool_, 'mcp.client.connection.state': 'used' })).toBe(0);
    expect(valueOf(all, 'mcp.client.connection.idle.min', pool_)).toBe(1);
    expect(valueOf(all, 'mcp.client.connection.limit', pool_)).toBe(1);
    expect(valueOf(all, 'mcp.client.connection.pending_requests', pool_)).toBe(0);
    expect(valueOf(all, 'mcp.client.connection.timeouts', pool_)).toBe(SCENARIO.acquireTimeouts);
    expect(histogramCount(all, 'mcp.client.connection.create_time', pool_)).toBe(SCENARIO.sessionsCreated);
    expect(histogramCount(all, 'mcp.client.connection.wait_time', pool_)).toBe(SCENARIO.borrows);
    expect(histogramCount(all, 'mcp.client.connection.use_time', pool_)).toBe(SCENARIO.borrows);
    expect(valueOf(all, 'mcp.client.pool.calls', pool_)).toBe(SCENARIO.calls);
    expect(valueOf(all, 'mcp.client.pool.call.errors', pool_)).toBe(SCENARIO.callErrors);
    expect(valueOf(all, 'mcp.client.pool.call.timeouts', pool_)).toBe(SCENARIO.callTimeouts);
    expect(valueOf(all, 'mcp.client.pool.errors', pool_)).toBe(SCENARIO.errors);
    expect(valueOf(all, 'mcp.client.pool.cache.hits', pool_)).toBe(SCENARIO.cacheHits);
    expect(valueOf(all, 'mcp.client.pool.cache.misses', pool_)).toBe(SCENARIO.cacheMisses);
    expect(valueOf(all, 'mcp.client.pool.sessions.created', pool_)).toBe(SCENARIO.sessionsCreated);
    expect(valueOf(all, 'mcp.client.pool.sessions.destroyed', pool_)).toBe(0);
    expect(valueOf(all, 'mcp.client.pool.circuit.state', pool_)).toBe(0);
    for (const name of ['mcp.client.connection.create_time', 'mcp.client.connection.wait_time', 'mcp.client.connection.use_time', 'mcp.client.operation.duration'])
      expect([name, all.get(name)!.descriptor.unit]).toEqual([name, 's']);
    expect(all.get('mcp.client.connection.count')!.descriptor.unit).toBe('{connection}');

    // One duration per request, split by method, tool and error type.
    const op = 'mcp.client.operation.duration';
    expect(pointsOf(all.get(op))).toHaveLength(4);
    expect(histogramCount(all, op, { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'echo', ...pool_ })).toBe(3);
    expect(histogramCount(all, op, { 'mcp.method.name': 'prompts/list', 'error.type': '-32601', 'rpc.response.status_code': '-32601' })).toBe(1);
    expect(histogramCount(all, op, { 'gen_ai.tool.name': 'sleep', 'error.type': 'timeout' })).toBe(1);
    expect(histogramCount(all, op, { 'mcp.method.name': 'tools/list' })).toBe(1);
    for (const p of pointsOf(all.get(op))) expect(p.attributes['mcp.session.id']).toBeUndefined();

    // Gauges follow the pool: a lease out and a caller waiting.
    const held = await pool.acquire();
    const waiting = pool.acquire();
    const busy = await otel.collect();
    expect(valueOf(busy, 'mcp.client.connection.count', { 'mcp.client.connection.state': 'used' })).toBe(1);
    expect(valueOf(busy, 'mcp.client.connection.count', { 'mcp.client.connection.state': 'idle' })).toBe(0);
    expect(valueOf(busy, 'mcp.client.connection.pending_requests')).toBe(1);
    held.release();
    (await waiting).release();

    // Detached: no listener left, nothing more recorded.
    handle.detach();
    expect(pool.events.has('borrow') || pool.events.has('return') || pool.events.has('sessionCreated')).toBe(false);
    await pool.callTool('echo', { text: 'after' });
    expect(histogramCount(await otel.collect(), 'mcp.client.connection.wait_time', pool_)).toBe(SCENARIO.borrows + 2);
  });

  it('reports calls of identity partitions under the pool, with the partition on the span only', async () => {
    // An explicit meter provider (not the global one).
    const reader = new CollectingReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const pool = newPool({ name: 'tenants', maxSessions: 2, partitionBy: ['x-tenant'], instrumentation: openTelemetryInstrumentation({ meterProvider }) });
    instrumentMcpPool(pool, { meterProvider });
    await pool.start();
    await runWithMcpHeaders({ 'x-tenant': 'acme' }, () => pool.callTool('echo', { text: 'x' }));

    const [span] = clientSpans();
    expect(span!.attributes['mcp.client.connection.pool.name']).toBe('tenants');
    expect(span!.attributes['mcp.client.pool.partition']).toMatch(/^[0-9a-f]{16}$/);
    const { resourceMetrics } = await reader.collect();
    const all = new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
    expect(histogramCount(all, 'mcp.client.operation.duration', { 'mcp.client.connection.pool.name': 'tenants' })).toBe(1);
    expect(histogramCount(all, 'mcp.client.connection.wait_time', { 'mcp.client.connection.pool.name': 'tenants' })).toBe(1);
    expect(valueOf(all, 'mcp.client.pool.calls', { 'mcp.client.connection.pool.name': 'tenants' })).toBe(1);
    // The global meter provider saw none of it.
    expect((await otel.collect()).has('mcp.client.operation.duration')).toBe(false);
    await meterProvider.shutdown();
  });

  it('reports the final numbers of a closed pool once, then detaches from it', async () => {
    const pool = newPool();
    instrumentMcpPool(pool);
    await pool.start();
    await pool.shutdown();
    const all = await otel.collect();
    expect(valueOf(all, 'mcp.client.pool.sessions.destroyed', { 'mcp.client.connection.pool.name': 'otel' })).toBe(1);
    await Promise.resolve(); // the detach is queued as a microtask by the collection
    expect(pool.events.has('borrow')).toBe(false);
  });

  it('works through McpPoolModule.forRoot({ instrumentation }) and a provider that instruments the pool', async () => {
    // As in docs/observability.md: constructors run before the pools warm up, so the warm-up is timed.
    @Injectable()
    class McpPoolTelemetry {
      constructor(@InjectMcpPool() pool: McpPool) {
        instrumentMcpPool(pool);
      }
    }
    @Module({
      providers: [McpPoolTelemetry],
      imports: [
        McpPoolModule.forRoot({
          endpoint: server.url.href,
          minSessions: 1,
          healthCheckIntervalMs: 0,
          logger: false,
          instrumentation: openTelemetryInstrumentation(),
        }),
      ],
    })
    class AppModule {}
    const app = await initNestContext(AppModule);
    try {
      await app.get(McpPoolRegistry).get().callTool('echo', { text: 'nest' });
      expect(clientSpans().map((s) => [s.name, s.attributes['mcp.client.connection.pool.name']])).toEqual([['tools/call echo', 'default']]);
      expect(server.recorder.lastCall('echo')!.headers.traceparent).toBe(traceparentOf(clientSpans()[0]!));
      const all = await otel.collect();
      expect(histogramCount(all, 'mcp.client.connection.create_time', { 'mcp.client.connection.pool.name': 'default' })).toBe(1);
      expect(histogramCount(all, 'mcp.client.operation.duration', { 'mcp.client.connection.pool.name': 'default' })).toBe(1);
    } finally {
      await app.close();
    }
  });
});

// What the exporters write (Prometheus text, spans, metric points) never holds a token or a header value,
// on success or on failure.
import { SpanKind } from '@opentelemetry/api';
import { McpPool, runWithMcpHeaders } from '../../lib';
import { instrumentMcpPool, openTelemetryInstrumentation } from '../../lib/opentelemetry';
import { renderPrometheus } from '../../lib/prometheus';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { disableOtelGlobals, startOtel, type OtelHarness } from './support/otel';

let server: TestHttpServer;
let otel: OtelHarness;
let pool: McpPool | undefined;

beforeAll(() => disableOtelGlobals());
beforeEach(async () => {
  server = await startHttpMcpServer();
  otel = startOtel({ globalMeter: true });
});
afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  await server.close();
  await otel.close();
});

it('keeps tokens, static headers and forwarded header values out of every export', async () => {
  server.setRequireAuth('tok-secret-1');
  pool = new McpPool({
    name: 'secrets',
    endpoint: server.url,
    minSessions: 1,
    healthCheckIntervalMs: 0,
    auth: 'tok-secret-1',
    headers: { 'x-api-key': 'key-secret-2' },
    instrumentation: openTelemetryInstrumentation(),
  });
  instrumentMcpPool(pool);
  await pool.start();
  await runWithMcpHeaders({ 'x-user-token': 'fwd-secret-3' }, () => pool!.callTool('echo', { text: 'ok' }));
  expect(server.recorder.lastCall('echo')!.headers['x-user-token']).toBe('fwd-secret-3'); // it was sent…
  // …and failures: a JSON-RPC error, then the server refusing the token (401) on the warm session.
  await runWithMcpHeaders({ 'x-user-token': 'fwd-secret-3' }, () => pool!.listPrompts()).catch(() => undefined);
  server.setRequireAuth('another-token');
  await runWithMcpHeaders({ 'x-user-token': 'fwd-secret-3' }, () => pool!.callTool('echo', { text: 'refused' })).catch(() => undefined);

  const spans = otel.spans.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
  expect(spans.length).toBe(3);
  expect(spans.filter((s) => s.attributes['error.type'] !== undefined).map((s) => s.attributes['error.type'])).toEqual(['-32601', '401']);
  const exported = [
    renderPrometheus([pool]),
    JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events, links: s.links }))),
    JSON.stringify((await otel.reader.collect()).resourceMetrics),
  ].join('\n');
  expect(exported).not.toMatch(/tok-secret-1|key-secret-2|fwd-secret-3|another-token/);
});

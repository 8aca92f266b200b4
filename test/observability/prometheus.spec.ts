// The Prometheus export against a real server, read back by a strict parser (and by prom-client itself).
import { Controller, Get, Header, Module } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { LatencyHistogram, McpPool, McpPoolModule, McpPoolRegistry, runWithMcpHeaders } from '../../lib';
import {
  DEFAULT_PROMETHEUS_BUCKETS_SECONDS,
  PROMETHEUS_CONTENT_TYPE,
  registerPrometheusCollector,
  renderPrometheus,
  trackMcpPool,
  type PromClientRegistryLike,
} from '../../lib/prometheus';
import * as semconv from '../../lib/opentelemetry/semconv';
import { exportHistogram, internalIndexes } from '../../lib/prometheus/histograms';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { startNestApp, type RunningApp } from '../e2e/support/nest-app';
import { checkHistogram, parsePrometheusText, valueOf, type ParsedFamily } from './support/prometheus-parser';
import { SCENARIO, runScenario } from './support/scenario';

let server: TestHttpServer;
const pools: McpPool[] = [];

function newPool(options: Partial<ConstructorParameters<typeof McpPool>[0]> = {}): McpPool {
  const pool = new McpPool({ name: 'prom', endpoint: server.url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0, ...options });
  pools.push(pool);
  return pool;
}

beforeEach(async () => {
  server = await startHttpMcpServer();
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.shutdown()));
  await server.close();
});

const COUNTERS: Record<string, number> = {
  mcp_pool_calls_total: SCENARIO.calls,
  mcp_pool_call_errors_total: SCENARIO.callErrors,
  mcp_pool_call_timeouts_total: SCENARIO.callTimeouts,
  mcp_pool_connection_timeouts_total: SCENARIO.acquireTimeouts,
  mcp_pool_errors_total: SCENARIO.errors,
  mcp_pool_borrows_total: SCENARIO.borrows,
  mcp_pool_returns_total: SCENARIO.borrows,
  mcp_pool_cache_hits_total: SCENARIO.cacheHits,
  mcp_pool_cache_misses_total: SCENARIO.cacheMisses,
  mcp_pool_cache_refreshes_total: SCENARIO.cacheRefreshes,
  mcp_pool_cache_waiters_total: 0,
  mcp_pool_sessions_created_total: SCENARIO.sessionsCreated,
  mcp_pool_sessions_destroyed_total: 0,
  mcp_pool_session_create_failures_total: 0,
  mcp_pool_sessions_recycled_total: 0,
  mcp_pool_reconnects_total: 0,
  mcp_pool_retries_total: 0,
  mcp_pool_health_checks_total: 0,
  mcp_pool_health_check_failures_total: 0,
};
const GAUGES = [
  'mcp_pool_connection_count',
  'mcp_pool_connection_creating',
  'mcp_pool_connection_idle_min',
  'mcp_pool_connection_limit',
  'mcp_pool_pending_requests',
  'mcp_pool_sessions',
  'mcp_pool_leases_active',
  'mcp_pool_partitions',
  'mcp_pool_circuit_state',
  'mcp_pool_state',
  'mcp_pool_uptime_seconds',
];
const HISTOGRAMS = [
  'mcp_pool_connection_wait_time_seconds',
  'mcp_pool_connection_use_time_seconds',
  'mcp_pool_connection_create_time_seconds',
  'mcp_pool_call_duration_seconds',
];

/** The one series of a histogram family for `pool`. */
function histogramOf(families: Map<string, ParsedFamily>, name: string, pool: string) {
  const series = [...checkHistogram(families.get(name)!).values()].filter((s) => s.labels.pool === pool);
  expect(series).toHaveLength(1);
  return series[0]!;
}

describe('renderPrometheus', () => {
  it('writes every family, with exact counter values, after the scripted sequence', async () => {
    const pool = newPool();
    trackMcpPool(pool); // before start: the warm-up session is timed too
    await pool.start();
    await runScenario(pool);
    const text = renderPrometheus([pool]);
    const families = parsePrometheusText(text);

    expect([...families.keys()].sort()).toEqual([...Object.keys(COUNTERS), ...GAUGES, ...HISTOGRAMS].sort());
    for (const f of families.values()) {
      expect(f.help).toEqual(expect.any(String));
      for (const s of f.samples) expect(s.labels.pool).toBe('prom');
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
    }
    for (const [name, value] of Object.entries(COUNTERS)) {
      expect(families.get(name)!.type).toBe('counter');
      expect([name, valueOf(families, name, { pool: 'prom' })]).toEqual([name, value]);
    }
    for (const name of GAUGES) expect(families.get(name)!.type).toBe('gauge');
    expect(valueOf(families, 'mcp_pool_connection_count', { state: 'idle' })).toBe(1);
    expect(valueOf(families, 'mcp_pool_connection_count', { state: 'used' })).toBe(0);
    expect(valueOf(families, 'mcp_pool_connection_idle_min', {})).toBe(1);
    expect(valueOf(families, 'mcp_pool_connection_limit', {})).toBe(1);
    expect(valueOf(families, 'mcp_pool_pending_requests', {})).toBe(0);
    expect(valueOf(families, 'mcp_pool_sessions', {})).toBe(1);
    expect(valueOf(families, 'mcp_pool_circuit_state', {})).toBe(0);
    expect(valueOf(families, 'mcp_pool_state', { state: 'running' })).toBe(1);
    expect(families.get('mcp_pool_state')!.samples.filter((s) => s.value === 1)).toHaveLength(1);

    for (const name of HISTOGRAMS) expect(families.get(name)!.type).toBe('histogram');
    const calls = histogramOf(families, 'mcp_pool_call_duration_seconds', 'prom');
    expect(calls.count).toBe(SCENARIO.calls);
    expect(calls.buckets.map((b) => b.le)).toEqual([...DEFAULT_PROMETHEUS_BUCKETS_SECONDS, Infinity]);
    // The timed-out call lasted at least its 50 ms deadline: it is above the 32.768 ms bucket.
    expect(calls.buckets.find((b) => b.le === 0.032768)!.count).toBeLessThanOrEqual(SCENARIO.calls - 1);
    expect(calls.sum).toBeGreaterThanOrEqual(0.05);
    expect(calls.sum).toBeCloseTo(pool.metrics.callLatency.sum / 1000, 9);
    expect(histogramOf(families, 'mcp_pool_connection_wait_time_seconds', 'prom').count).toBe(SCENARIO.borrows);
    expect(histogramOf(families, 'mcp_pool_connection_use_time_seconds', 'prom').count).toBe(SCENARIO.borrows);
    expect(histogramOf(families, 'mcp_pool_connection_create_time_seconds', 'prom').count).toBe(SCENARIO.sessionsCreated);
  });

  it('names, in HELP, the OpenTelemetry instruments that instrumentMcpPool records (mcp.client.connection.*)', async () => {
    const pool = newPool();
    await pool.start();
    const named = [...parsePrometheusText(renderPrometheus([pool])).values()]
      .map((f) => /OTel (\S+)\.$/.exec(f.help ?? '')?.[1])
      .filter((name): name is string => name !== undefined);
    const instruments = Object.entries(semconv).filter(([key]) => key.startsWith('METRIC_CONNECTION_')).map(([, name]) => name);
    expect(named.sort()).toEqual([...instruments].sort());
  });

  it('escapes label values and keeps each family in one block over several pools', async () => {
    const weird = 'we"ird\\pool\nname';
    const a = newPool({ name: weird });
    const b = newPool({ name: 'plain', minSessions: 2, maxSessions: 3 });
    await Promise.all([a.start(), b.start()]);
    await a.callTool('echo', { text: 'x' });
    const text = renderPrometheus([a, b], { labels: { service: 'api "v2"' } });
    expect(text).toContain('pool="we\\"ird\\\\pool\\nname"');
    const families = parsePrometheusText(text); // throws if a family were split or a value badly escaped
    expect(valueOf(families, 'mcp_pool_calls_total', { pool: weird, service: 'api "v2"' })).toBe(1);
    expect(valueOf(families, 'mcp_pool_calls_total', { pool: 'plain' })).toBe(0);
    expect(valueOf(families, 'mcp_pool_connection_count', { pool: 'plain', state: 'idle' })).toBe(2);
    expect(valueOf(families, 'mcp_pool_connection_limit', { pool: 'plain' })).toBe(3);
    for (const f of families.values()) for (const s of f.samples) expect(s.labels.service).toBe('api "v2"');
    expect(histogramOf(families, 'mcp_pool_call_duration_seconds', weird).count).toBe(1);
    expect(histogramOf(families, 'mcp_pool_call_duration_seconds', 'plain').count).toBe(0);
  });

  it('includes identity partitions in counters and histograms alike', async () => {
    const pool = newPool({ name: 'parts', maxSessions: 2, partitionBy: ['x-tenant'] });
    trackMcpPool(pool);
    await pool.start();
    await runWithMcpHeaders({ 'x-tenant': 't1' }, () => pool.callTool('echo', { text: '1' }));
    await runWithMcpHeaders({ 'x-tenant': 't2' }, () => pool.callTool('echo', { text: '2' }));
    await pool.callTool('echo', { text: 'shared' });
    const families = parsePrometheusText(renderPrometheus([pool]));
    expect(valueOf(families, 'mcp_pool_partitions', { pool: 'parts' })).toBe(2);
    expect(valueOf(families, 'mcp_pool_calls_total', { pool: 'parts' })).toBe(3);
    expect(valueOf(families, 'mcp_pool_sessions_created_total', { pool: 'parts' })).toBe(3);
    expect(histogramOf(families, 'mcp_pool_call_duration_seconds', 'parts').count).toBe(3);
    expect(histogramOf(families, 'mcp_pool_connection_wait_time_seconds', 'parts').count).toBe(3);
    expect(histogramOf(families, 'mcp_pool_connection_use_time_seconds', 'parts').count).toBe(3);
    expect(histogramOf(families, 'mcp_pool_connection_create_time_seconds', 'parts').count).toBe(3);
  });

  it('takes a prefix and custom buckets, can leave the event timings out, and rejects bad options', async () => {
    const pool = newPool();
    await pool.start();
    await pool.callTool('echo', { text: 'x' });
    const families = parsePrometheusText(renderPrometheus([pool], { prefix: 'app_mcp', buckets: [0.001, 0.01, 10], timings: false }));
    expect(families.has('app_mcp_calls_total')).toBe(true);
    expect(families.has('app_mcp_connection_use_time_seconds')).toBe(false);
    expect(families.has('app_mcp_connection_create_time_seconds')).toBe(false);
    const calls = histogramOf(families, 'app_mcp_call_duration_seconds', 'prom');
    expect(calls.buckets.map((b) => b.le)).toEqual([0.001, 0.01, 10, Infinity]);
    expect(calls.buckets[2]!.count).toBe(1);

    expect(() => renderPrometheus([pool], { prefix: 'bad-prefix' })).toThrow(/prefix/);
    expect(() => renderPrometheus([pool], { labels: { pool: 'x' } })).toThrow(/reserved/);
    expect(() => renderPrometheus([pool], { labels: { 'bad-name': 'x' } })).toThrow(/label name/);
    expect(() => renderPrometheus([pool], { buckets: [1, 0.5] })).toThrow(/ascending/);
    expect(() => renderPrometheus([pool], { buckets: [] })).toThrow(/non-empty/);
    expect(() => renderPrometheus([pool, pool])).toThrow(/two MCP pools are named "prom"/);
    expect(renderPrometheus([])).not.toMatch(/^mcp_pool/m); // families without samples: only HELP/TYPE
    expect(() => parsePrometheusText(renderPrometheus([]))).not.toThrow();
  });
});

describe('bucket export', () => {
  it('counts exactly at the default (power-of-two) bounds, and up to the edge below a custom bound', () => {
    const h = new LatencyHistogram();
    const samplesMs = [0, 0.1, 0.9, 1, 3, 40, 1000, 200_000];
    for (const ms of samplesMs) h.record(ms);
    const bounds = DEFAULT_PROMETHEUS_BUCKETS_SECONDS;
    const exported = exportHistogram(h, bounds, internalIndexes(bounds));
    expect(exported.count).toBe(samplesMs.length);
    expect(exported.sumSeconds).toBeCloseTo(samplesMs.reduce((a, b) => a + b) / 1000, 12);
    for (const b of exported.buckets) expect([b.le, b.count]).toEqual([b.le, samplesMs.filter((ms) => ms / 1000 <= b.le).length]);

    // 1 ms is not an internal edge (the edges are 2^(k/4) µs): 0.9 ms sits in the bucket that straddles
    // it, so le="0.001" counts the samples up to the edge below (0.86 ms), as documented.
    const custom = exportHistogram(h, [0.001], internalIndexes([0.001]));
    expect(custom.buckets).toEqual([{ le: 0.001, count: 2 }]);
  });
});

describe('registerPrometheusCollector (prom-client)', () => {
  it('adds the same families to a prom-client registry, next to the application metrics', async () => {
    const pool = newPool();
    await pool.start();
    await runScenario(pool);
    const registry = new Registry();
    const typed: PromClientRegistryLike = registry; // any prom-client registry fits the parameter type
    new Counter({ name: 'app_requests_total', help: 'The application’s own counter.', registers: [registry] }).inc(2);
    const unregister = registerPrometheusCollector(typed, () => [pool]);

    const fromPromClient = parsePrometheusText(await registry.metrics());
    const fromText = parsePrometheusText(renderPrometheus([pool]));
    expect(valueOf(fromPromClient, 'app_requests_total', {})).toBe(2);
    fromPromClient.delete('app_requests_total');
    expect([...fromPromClient.keys()].sort()).toEqual([...fromText.keys()].sort());
    for (const [name, family] of fromText) {
      const other = fromPromClient.get(name)!;
      expect([name, other.type, other.help]).toEqual([name, family.type, family.help]);
      if (name === 'mcp_pool_uptime_seconds') continue; // read at different times
      const norm = (f: ParsedFamily) => f.samples.map((s) => ({ name: s.name, labels: s.labels, value: s.value }));
      expect(norm(other)).toEqual(norm(family));
    }
    for (const name of HISTOGRAMS) checkHistogram(fromPromClient.get(name)!);

    // prom-client's OpenMetrics output: counters are declared without _total, samples keep it; switching
    // back to the Prometheus format gives the _total names again.
    const openRegistry = new Registry();
    openRegistry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never); // (the typings omit the constructor argument)
    registerPrometheusCollector(openRegistry, () => [pool]);
    const open = await openRegistry.metrics();
    expect(open).toContain('# TYPE mcp_pool_calls counter');
    expect(open).toContain(`mcp_pool_calls_total{pool="prom"} ${SCENARIO.calls}`);
    expect(open).toContain('mcp_pool_call_duration_seconds_count{pool="prom"} 6');
    expect(open.endsWith('# EOF\n')).toBe(true);
    openRegistry.setContentType(Registry.PROMETHEUS_CONTENT_TYPE as never);
    const back = parsePrometheusText(await openRegistry.metrics());
    expect(valueOf(back, 'mcp_pool_calls_total', { pool: 'prom' })).toBe(SCENARIO.calls);

    const json = await registry.getMetricsAsJSON();
    expect(json.find((m) => m.name === 'mcp_pool_calls_total')?.values).toEqual([{ value: SCENARIO.calls, labels: { pool: 'prom' } }]);

    expect(() => registerPrometheusCollector(registry, () => [pool])).toThrow(/already registered/);
    unregister();
    const after = await registry.metrics();
    expect(after).not.toContain('mcp_pool_');
    expect(after).toContain('app_requests_total 2');
  });

  it('reads the pools at each scrape', async () => {
    const registry = new Registry();
    const live: McpPool[] = [];
    registerPrometheusCollector(registry, () => live);
    expect(await registry.metrics()).not.toMatch(/^mcp_pool_calls_total/m);
    const pool = newPool({ name: 'late' });
    await pool.start();
    await pool.callTool('echo', { text: 'x' });
    live.push(pool);
    expect(valueOf(parsePrometheusText(await registry.metrics()), 'mcp_pool_calls_total', { pool: 'late' })).toBe(1);
  });
});

// The route documented in docs/observability.md, as written there.
@Controller()
class MetricsController {
  constructor(private readonly pools: McpPoolRegistry) {}

  @Get('metrics')
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  metrics(): string {
    return renderPrometheus(this.pools.all());
  }
}

describe('a Nest route', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.app.close();
    running = undefined;
  });

  it('serves every registered pool at GET /metrics', async () => {
    @Module({
      imports: [
        McpPoolModule.forRoot({ endpoint: server.url.href, minSessions: 1, healthCheckIntervalMs: 0, logger: false }),
        McpPoolModule.forRoot({ name: 'second', endpoint: server.url.href, minSessions: 1, healthCheckIntervalMs: 0, logger: false }),
      ],
      controllers: [MetricsController],
    })
    class AppModule {}
    running = await startNestApp(AppModule, 'express');
    await running.app.get(McpPoolRegistry).get('second').callTool('echo', { text: 'x' });

    const res = await fetch(`${running.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    const families = parsePrometheusText(await res.text());
    expect(valueOf(families, 'mcp_pool_calls_total', { pool: 'default' })).toBe(0);
    expect(valueOf(families, 'mcp_pool_calls_total', { pool: 'second' })).toBe(1);
    expect(valueOf(families, 'mcp_pool_connection_count', { pool: 'default', state: 'idle' })).toBe(1);
  });
});

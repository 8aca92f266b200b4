import type { LatencyHistogram } from '../core/histogram';
import type { McpPool } from '../core/mcp-pool';
import type { McpPoolMetricsSnapshot } from '../core/metrics';
import { DEFAULT_PROMETHEUS_BUCKETS_SECONDS, checkBuckets, exportHistogram, internalIndexes, poolHistograms } from './histograms';
import { trackMcpPool, type McpPoolTimings } from './timings';

/** Options of the Prometheus export (text and prom-client alike). */
export interface PrometheusExportOptions {
  /** Prefix of every metric name. Default `'mcp_pool'`. */
  prefix?: string;
  /**
   * Upper bounds of the histogram buckets, in seconds, ascending (+Inf is always added). Default
   * {@link DEFAULT_PROMETHEUS_BUCKETS_SECONDS}: powers of two from 128 µs to 134 s, which are exact edges
   * of the pool's internal histogram. Any other bound counts the samples up to the internal edge just
   * below it (at most ~19% lower), so its count may miss a few samples that are just under it.
   */
  buckets?: readonly number[];
  /** Labels added to every sample (for example `{ service: 'api' }`). `pool`, `state` and `le` are reserved. */
  labels?: Record<string, string>;
  /**
   * Time session creations and lease use from the pools' events (see {@link trackMcpPool}); without it
   * the create-time and use-time histograms are left out. Default true.
   */
  timings?: boolean;
}

export type PrometheusMetricType = 'counter' | 'gauge' | 'histogram';

/** One line of the exposition: a series name, its labels and its value. */
export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family: its samples over every pool. */
export interface PrometheusFamily {
  name: string;
  help: string;
  type: PrometheusMetricType;
  /** How prom-client's cluster aggregator combines workers. */
  aggregator: 'sum' | 'max';
  samples: PrometheusSample[];
}

/** What each metric definition reads for one pool. */
interface PoolView {
  snap: McpPoolMetricsSnapshot;
  options: McpPool['options'];
  labels: Record<string, string>;
  histograms: { borrowWait: LatencyHistogram; callLatency: LatencyHistogram };
  timings: McpPoolTimings | undefined;
}

type ScalarDef = {
  suffix: string;
  help: string;
  type: 'counter' | 'gauge';
  aggregator?: 'sum' | 'max';
  /** Values of one pool: [extra labels, value]. */
  values: (v: PoolView) => Array<[Record<string, string> | undefined, number]>;
};
type HistogramDef = {
  suffix: string;
  help: string;
  type: 'histogram';
  /** Recorded from events by {@link trackMcpPool}: left out when `timings` is off. */
  fromEvents?: boolean;
  histogram: (v: PoolView) => LatencyHistogram;
};

const one = (read: (s: McpPoolMetricsSnapshot) => number) => (v: PoolView) => [[undefined, read(v.snap)]] as Array<[undefined, number]>;
const counter = (suffix: string, help: string, read: (s: McpPoolMetricsSnapshot) => number): ScalarDef => ({
  suffix,
  help,
  type: 'counter',
  values: one(read),
});
const gauge = (suffix: string, help: string, read: (s: McpPoolMetricsSnapshot) => number, aggregator: 'sum' | 'max' = 'sum'): ScalarDef => ({
  suffix,
  help,
  type: 'gauge',
  aggregator,
  values: one(read),
});

/** The pool's circuit breaker as a number: 0 closed, 1 half-open, 2 open. */
export const CIRCUIT_STATE_VALUES: Readonly<Record<string, number>> = { closed: 0, 'half-open': 1, open: 2 };
const LIFECYCLE_STATES = ['created', 'starting', 'running', 'draining', 'closed'] as const;

/**
 * Every exported metric, in output order. Names follow OpenTelemetry's connection-pool vocabulary
 * (`db.client.connection.*`, with "connection" meaning an MCP session) where it applies; the rest are the
 * pool's own counters. A HELP text that says "OTel x" names the instrument `instrumentMcpPool` records
 * (`mcp.client.connection.*`). docs/observability.md lists them for dashboards.
 */
const DEFINITIONS: Array<ScalarDef | HistogramDef> = [
  {
    suffix: 'connection_count',
    help: 'Sessions by state: idle (ready, no lease out) or used (at least one lease out). OTel mcp.client.connection.count.',
    type: 'gauge',
    values: (v) => [
      [{ state: 'idle' }, v.snap.idle],
      [{ state: 'used' }, v.snap.active],
    ],
  },
  gauge('connection_creating', 'Sessions being created (connect and initialize) right now.', (s) => s.creating),
  {
    suffix: 'connection_idle_min',
    help: 'Sessions the pool keeps warm (minSessions). OTel mcp.client.connection.idle.min.',
    type: 'gauge',
    values: (v) => [[undefined, v.options.minSessions]],
  },
  {
    suffix: 'connection_limit',
    help: 'Most sessions the pool may open (maxSessions). OTel mcp.client.connection.limit.',
    type: 'gauge',
    values: (v) => [[undefined, v.options.maxSessions]],
  },
  gauge('pending_requests', 'Callers waiting for a session. OTel mcp.client.connection.pending_requests.', (s) => s.waiting),
  gauge('sessions', 'Sessions open, in any state (ready, being probed, retiring).', (s) => s.total),
  gauge('leases_active', 'Leases borrowed and not yet released (requests in flight through the pool).', (s) => s.inFlight),
  gauge('partitions', 'Identity partitions open.', (s) => s.partitions),
  gauge('circuit_state', 'Circuit breaker of session creation: 0 closed, 1 half-open, 2 open.', (s) => CIRCUIT_STATE_VALUES[s.circuitState] ?? -1, 'max'),
  {
    suffix: 'state',
    help: 'Lifecycle of the pool: 1 for its current state, 0 for the others.',
    type: 'gauge',
    aggregator: 'max',
    values: (v) => LIFECYCLE_STATES.map((state) => [{ state }, v.snap.state === state ? 1 : 0]),
  },
  gauge('uptime_seconds', 'Seconds since the pool was created or its metrics were reset.', (s) => s.uptimeMs / 1000, 'max'),

  counter(
    'connection_timeouts_total',
    'Borrows that timed out waiting for a session (acquireTimeoutMs). OTel mcp.client.connection.timeouts.',
    (s) => s.acquireTimeouts,
  ),
  counter('borrows_total', 'Leases handed out.', (s) => s.borrowCount),
  counter('returns_total', 'Leases returned.', (s) => s.returnCount),
  counter('calls_total', 'MCP requests sent for callers (tools/call, tools/list, ping, ...).', (s) => s.calls),
  counter('call_errors_total', 'MCP requests that failed (JSON-RPC errors, timeouts, lost sessions, aborts).', (s) => s.callErrors),
  counter('call_timeouts_total', 'MCP requests that hit their deadline (callTimeoutMs or timeoutMs).', (s) => s.callTimeouts),
  counter('errors_total', 'Every error the pool raised or passed on: call errors, borrow timeouts and rejections, failed session creations.', (s) => s.errors),
  counter('cache_hits_total', 'tools/prompts/resources list lookups answered from the cache.', (s) => s.cacheHits),
  counter('cache_misses_total', 'List lookups that were not answered from the cache.', (s) => s.cacheMisses),
  counter('cache_refreshes_total', 'Lists fetched from the server and stored in the cache.', (s) => s.cacheRefreshCount),
  counter('cache_waiters_total', 'List lookups that joined a fetch already under way.', (s) => s.cacheWaiters),
  counter('reconnects_total', 'Sessions created to replace sessions that failed.', (s) => s.reconnectCount),
  counter('retries_total', 'Calls retried on a fresh session after a lost session.', (s) => s.retryAttempts),
  counter('health_checks_total', 'Health probes of idle sessions.', (s) => s.healthCheckCount),
  counter('health_check_failures_total', 'Health probes that failed (the session was evicted).', (s) => s.healthCheckFailures),
  counter('sessions_created_total', 'Sessions created.', (s) => s.sessionsCreated),
  counter('sessions_destroyed_total', 'Sessions closed, for any reason.', (s) => s.sessionsDestroyed),
  counter('session_create_failures_total', 'Session creations that failed.', (s) => s.sessionCreateFailures),
  counter('sessions_recycled_total', 'Sessions retired at the end of their lifetime (maxSessionLifetimeMs).', (s) => s.recycledCount),

  {
    suffix: 'connection_wait_time_seconds',
    help: 'Time callers waited to borrow a session. OTel mcp.client.connection.wait_time.',
    type: 'histogram',
    histogram: (v) => v.histograms.borrowWait,
  },
  {
    suffix: 'connection_use_time_seconds',
    help: 'Time a lease was held, from borrow to release. OTel mcp.client.connection.use_time.',
    type: 'histogram',
    fromEvents: true,
    histogram: (v) => v.timings!.useTime,
  },
  {
    suffix: 'connection_create_time_seconds',
    help: 'Time to create a session (connect, initialize, first tools/list). OTel mcp.client.connection.create_time.',
    type: 'histogram',
    fromEvents: true,
    histogram: (v) => v.timings!.createTime,
  },
  {
    suffix: 'call_duration_seconds',
    help: 'Duration of MCP requests sent for callers, errors included. Like OTel mcp.client.operation.duration, without per-method labels.',
    type: 'histogram',
    histogram: (v) => v.histograms.callLatency,
  },
];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = new Set(['pool', 'state', 'le']);

/** Options checked and filled in by {@link resolveExportOptions}. */
export interface ResolvedExport {
  prefix: string;
  buckets: readonly number[];
  indexes: number[];
  labels: Record<string, string>;
  timings: boolean;
}

/** Validates the options once (a TypeError names the bad one). */
export function resolveExportOptions(opts: PrometheusExportOptions = {}): ResolvedExport {
  const prefix = opts.prefix ?? 'mcp_pool';
  if (typeof prefix !== 'string' || !METRIC_NAME.test(prefix)) throw new TypeError(`prefix ${JSON.stringify(prefix)} is not a valid Prometheus metric name`);
  const buckets = opts.buckets ?? DEFAULT_PROMETHEUS_BUCKETS_SECONDS;
  checkBuckets(buckets);
  const labels = { ...(opts.labels ?? {}) };
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new TypeError(`label name ${JSON.stringify(name)} is not valid in Prometheus`);
    if (RESERVED_LABELS.has(name)) throw new TypeError(`label name "${name}" is reserved by the MCP pool metrics`);
    if (typeof value !== 'string') throw new TypeError(`label "${name}" must have a string value`);
  }
  return { prefix, buckets: [...buckets], indexes: internalIndexes(buckets), labels, timings: opts.timings ?? true };
}

/**
 * Reads every pool once and returns the metric families, each with the samples of every pool (label
 * `pool="<name>"`). Throws if two pools share a name (their series would collide).
 */
export function collectPrometheusFamilies(pools: Iterable<McpPool>, opts?: PrometheusExportOptions): PrometheusFamily[] {
  return collectFamilies(pools, resolveExportOptions(opts));
}

/** {@link collectPrometheusFamilies} with options already resolved (once, not per scrape). */
export function collectFamilies(pools: Iterable<McpPool>, o: ResolvedExport): PrometheusFamily[] {
  const views: PoolView[] = [];
  const seen = new Set<string>();
  for (const pool of pools) {
    if (seen.has(pool.name)) throw new Error(`two MCP pools are named "${pool.name}": their Prometheus series would collide`);
    seen.add(pool.name);
    const timings = o.timings ? trackMcpPool(pool) : undefined;
    views.push({
      snap: pool.metrics.snapshot(),
      options: pool.options,
      labels: { ...o.labels, pool: pool.name },
      histograms: poolHistograms(pool),
      timings,
    });
  }

  const families: PrometheusFamily[] = [];
  for (const def of DEFINITIONS) {
    const name = `${o.prefix}_${def.suffix}`;
    const samples: PrometheusSample[] = [];
    if (def.type === 'histogram') {
      if (def.fromEvents && !o.timings) continue;
      for (const v of views) {
        const exported = exportHistogram(def.histogram(v), o.buckets, o.indexes);
        for (const b of exported.buckets) samples.push({ name: `${name}_bucket`, labels: { ...v.labels, le: formatBound(b.le) }, value: b.count });
        samples.push({ name: `${name}_bucket`, labels: { ...v.labels, le: '+Inf' }, value: exported.count });
        samples.push({ name: `${name}_sum`, labels: v.labels, value: exported.sumSeconds });
        samples.push({ name: `${name}_count`, labels: v.labels, value: exported.count });
      }
      families.push({ name, help: def.help, type: 'histogram', aggregator: 'sum', samples });
    } else {
      for (const v of views) {
        for (const [extra, value] of def.values(v)) samples.push({ name, labels: extra ? { ...v.labels, ...extra } : v.labels, value });
      }
      families.push({ name, help: def.help, type: def.type, aggregator: def.aggregator ?? 'sum', samples });
    }
  }
  return families;
}

/** A bucket bound as Prometheus writes it (Go's float formatting accepts JavaScript's shortest form). */
export function formatBound(le: number): string {
  return le === Infinity ? '+Inf' : String(le);
}

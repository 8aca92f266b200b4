import { metrics, type Attributes, type BatchObservableResult, type MeterProvider, type Observable } from '@opentelemetry/api';
import type { McpPool } from '../core/mcp-pool';
import type { McpPoolMetricsSnapshot } from '../core/metrics';
import {
  ATTR_CONNECTION_STATE,
  ATTR_POOL_NAME,
  INSTRUMENTATION_SCOPE,
  METRIC_CONNECTION_COUNT,
  METRIC_CONNECTION_CREATE_TIME,
  METRIC_CONNECTION_IDLE_MIN,
  METRIC_CONNECTION_LIMIT,
  METRIC_CONNECTION_PENDING_REQUESTS,
  METRIC_CONNECTION_TIMEOUTS,
  METRIC_CONNECTION_USE_TIME,
  METRIC_CONNECTION_WAIT_TIME,
  POOL_TIME_BUCKETS,
} from './semconv';

/** Options of {@link instrumentMcpPool}. */
export interface McpPoolMetricsOptions {
  /**
   * Where the instruments are created. Default: the global meter provider *now*: register the SDK first
   * (the API has no proxy for meters, so instruments made before that are no-ops for good).
   */
  meterProvider?: MeterProvider;
}

/** The instruments attached to one pool. */
export interface McpPoolMetricsHandle {
  /** Stops recording and observing this pool. Idempotent. */
  detach(): void;
}

/** The circuit breaker as `mcp.client.pool.circuit.state` reports it. */
const CIRCUIT_VALUES: Readonly<Record<string, number>> = { closed: 0, 'half-open': 1, open: 2 };

/** The pool's own counters, observed from its snapshot: [name, unit, description, value]. */
const POOL_COUNTERS: Array<[string, string, string, (s: McpPoolMetricsSnapshot) => number]> = [
  ['mcp.client.pool.calls', '{request}', 'MCP requests sent for callers.', (s) => s.calls],
  ['mcp.client.pool.call.errors', '{request}', 'MCP requests that failed.', (s) => s.callErrors],
  ['mcp.client.pool.call.timeouts', '{request}', 'MCP requests that hit their deadline.', (s) => s.callTimeouts],
  ['mcp.client.pool.errors', '{error}', 'Every error the pool raised or passed on.', (s) => s.errors],
  ['mcp.client.pool.cache.hits', '{lookup}', 'List lookups answered from the cache.', (s) => s.cacheHits],
  ['mcp.client.pool.cache.misses', '{lookup}', 'List lookups not answered from the cache.', (s) => s.cacheMisses],
  ['mcp.client.pool.sessions.created', '{session}', 'Sessions created.', (s) => s.sessionsCreated],
  ['mcp.client.pool.sessions.destroyed', '{session}', 'Sessions closed, for any reason.', (s) => s.sessionsDestroyed],
  ['mcp.client.pool.session.create_failures', '{session}', 'Session creations that failed.', (s) => s.sessionCreateFailures],
  ['mcp.client.pool.reconnects', '{session}', 'Sessions created to replace failed ones.', (s) => s.reconnectCount],
  ['mcp.client.pool.retries', '{request}', 'Calls retried on a fresh session.', (s) => s.retryAttempts],
  ['mcp.client.pool.health_check.failures', '{probe}', 'Health probes that failed.', (s) => s.healthCheckFailures],
];

const attached = new WeakMap<McpPool, Map<MeterProvider, McpPoolMetricsHandle>>();

/**
 * Reports a pool's metrics through OpenTelemetry, named after the connection-pool semantic conventions
 * (an MCP session is the "connection"; every series has `mcp.client.connection.pool.name`):
 *
 * - `mcp.client.connection.count` {connection}, `mcp.client.connection.state` = `idle` | `used`;
 * - `mcp.client.connection.idle.min`, `mcp.client.connection.limit` (minSessions, maxSessions);
 * - `mcp.client.connection.pending_requests` {request}: callers waiting for a session;
 * - `mcp.client.connection.timeouts` {timeout}: borrows that timed out;
 * - `mcp.client.connection.create_time`, `.wait_time`, `.use_time` (histograms, seconds);
 * - the pool's own counters (`mcp.client.pool.calls`, `.call.errors`, `.call.timeouts`, `.errors`,
 *   `.cache.hits`, `.cache.misses`, `.sessions.created`, `.sessions.destroyed`,
 *   `.session.create_failures`, `.reconnects`, `.retries`, `.health_check.failures`) and
 *   `mcp.client.pool.circuit.state` (0 closed, 1 half-open, 2 open).
 *
 * Gauges and counters are observed from `pool.metrics.snapshot()` (one snapshot per collection, so they
 * include what happened before this call); the three histograms are recorded from the pool's events from
 * this call on (call it before `pool.start()` to time the warm-up). Identity partitions are included.
 * Once the pool is closed, the next collection reports its final numbers and the pool is detached.
 *
 * Per-request spans and `mcp.client.operation.duration` come from {@link openTelemetryInstrumentation}.
 * Calling this twice for one pool and meter provider returns the first handle.
 */
export function instrumentMcpPool(pool: McpPool, opts: McpPoolMetricsOptions = {}): McpPoolMetricsHandle {
  const provider = opts.meterProvider ?? metrics.getMeterProvider();
  let byProvider = attached.get(pool);
  const existing = byProvider?.get(provider);
  if (existing) return existing;

  const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
  const attributes: Attributes = { [ATTR_POOL_NAME]: pool.name };
  const time = (name: string, description: string) =>
    meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: POOL_TIME_BUCKETS } });
  const createTime = time(METRIC_CONNECTION_CREATE_TIME, 'Time it took to create a session (connect, initialize, first tools/list).');
  const waitTime = time(METRIC_CONNECTION_WAIT_TIME, 'Time it took to obtain a session from the pool.');
  const useTime = time(METRIC_CONNECTION_USE_TIME, 'Time between borrowing a session and returning it to the pool.');

  const count = meter.createObservableUpDownCounter(METRIC_CONNECTION_COUNT, {
    unit: '{connection}',
    description: 'Sessions in the state given by mcp.client.connection.state (idle, used).',
  });
  const idleMin = meter.createObservableUpDownCounter(METRIC_CONNECTION_IDLE_MIN, {
    unit: '{connection}',
    description: 'Minimum number of sessions kept open (minSessions).',
  });
  const limit = meter.createObservableUpDownCounter(METRIC_CONNECTION_LIMIT, {
    unit: '{connection}',
    description: 'Maximum number of open sessions allowed (maxSessions).',
  });
  const pending = meter.createObservableUpDownCounter(METRIC_CONNECTION_PENDING_REQUESTS, {
    unit: '{request}',
    description: 'Callers waiting for a session.',
  });
  const timeouts = meter.createObservableCounter(METRIC_CONNECTION_TIMEOUTS, {
    unit: '{timeout}',
    description: 'Borrows that timed out waiting for a session.',
  });
  const circuit = meter.createObservableGauge('mcp.client.pool.circuit.state', {
    unit: '1',
    description: 'Circuit breaker of session creation: 0 closed, 1 half-open, 2 open.',
  });
  const counters = POOL_COUNTERS.map(([name, unit, description, read]) => ({ instrument: meter.createObservableCounter(name, { unit, description }), read }));
  const observables: Observable[] = [count, idleMin, limit, pending, timeouts, circuit, ...counters.map((c) => c.instrument)];

  const idle: Attributes = { ...attributes, [ATTR_CONNECTION_STATE]: 'idle' };
  const used: Attributes = { ...attributes, [ATTR_CONNECTION_STATE]: 'used' };
  const observe = (result: BatchObservableResult): void => {
    const s = pool.metrics.snapshot();
    result.observe(count, s.idle, idle);
    result.observe(count, s.active, used);
    result.observe(idleMin, pool.options.minSessions, attributes);
    result.observe(limit, pool.options.maxSessions, attributes);
    result.observe(pending, s.waiting, attributes);
    result.observe(timeouts, s.acquireTimeouts, attributes);
    result.observe(circuit, CIRCUIT_VALUES[s.circuitState] ?? -1, attributes);
    for (const c of counters) result.observe(c.instrument, c.read(s), attributes);
    if (s.state === 'closed') queueMicrotask(() => handle.detach());
  };
  meter.addBatchObservableCallback(observe, observables);

  const unsubscribe = [
    pool.events.on('sessionCreated', (e) => createTime.record(e.durationMs / 1000, attributes)),
    pool.events.on('borrow', (e) => waitTime.record(e.waitMs / 1000, attributes)),
    pool.events.on('return', (e) => useTime.record(e.heldMs / 1000, attributes)),
  ];

  let detached = false;
  const handle: McpPoolMetricsHandle = {
    detach() {
      if (detached) return;
      detached = true;
      meter.removeBatchObservableCallback(observe, observables);
      for (const off of unsubscribe) off();
      attached.get(pool)?.delete(provider);
    },
  };
  if (!byProvider) attached.set(pool, (byProvider = new Map()));
  byProvider.set(provider, handle);
  return handle;
}

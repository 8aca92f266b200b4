/**
 * `nestjs-mcp-pool/prometheus`: the pools' metrics in the Prometheus text format, or registered on a
 * prom-client registry. prom-client is optional: nothing here loads it (the registry is passed in).
 * See docs/observability.md for the metric names and a Nest route that serves them.
 */
export { renderPrometheus, PROMETHEUS_CONTENT_TYPE, escapeLabelValue } from './text';
export { registerPrometheusCollector, type PromClientRegistryLike } from './prom-client';
export {
  collectPrometheusFamilies,
  CIRCUIT_STATE_VALUES,
  type PrometheusExportOptions,
  type PrometheusFamily,
  type PrometheusSample,
  type PrometheusMetricType,
} from './families';
export { DEFAULT_PROMETHEUS_BUCKETS_SECONDS } from './histograms';
export { trackMcpPool, type McpPoolTimings } from './timings';

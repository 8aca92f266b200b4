// prom-client stays an optional peer: nothing here imports it. The registry is the user's object, and
// the metrics registered on it are plain objects with the shape prom-client's Registry reads
// (name, help, type, aggregator, get(), reset()), the same shape its own Counter/Gauge/Histogram have.
import type { McpPool } from '../core/mcp-pool';
import { collectFamilies, resolveExportOptions, type PrometheusExportOptions, type PrometheusFamily } from './families';

/**
 * What {@link registerPrometheusCollector} needs of a prom-client `Registry` (prom-client's `register`,
 * or a `new Registry()`): any prom-client 15.x registry fits.
 */
export interface PromClientRegistryLike {
  /** prom-client's `Registry.registerMetric` (its parameter type is prom-client's `Metric`). */
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
  getSingleMetric(name: string): unknown;
}

/** A metric as prom-client's registry reads it (what `Metric.get()` returns). */
interface PromClientMetricValues {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: Array<{ value: number; labels: Record<string, string>; metricName?: string }>;
}

/**
 * Registers the metrics of the pools returned by `pools()` on a prom-client registry, as collectors read
 * at scrape time: `await registry.metrics()` (or `register.metrics()`) then includes every MCP pool metric
 * next to the application's own. The metric names, labels and buckets are those of
 * {@link renderPrometheus}. `pools` is called once per scrape, so pools registered later (a lazy Nest
 * module) show up; in Nest pass `() => registry.all()` of McpPoolRegistry.
 *
 * Works with both of prom-client's content types (Prometheus text and OpenMetrics) and with its cluster
 * aggregator. Returns a function that unregisters the metrics. Registering twice on one registry throws
 * (prom-client refuses a second metric of the same name).
 */
export function registerPrometheusCollector(
  registry: PromClientRegistryLike,
  pools: () => Iterable<McpPool>,
  opts?: PrometheusExportOptions,
): () => void {
  const resolved = resolveExportOptions(opts);
  // prom-client asks every metric for its values in one synchronous loop per scrape: read the pools once
  // for all of them and drop the result at the end of that loop.
  let current: Map<string, PrometheusFamily> | undefined;
  const collect = (): Map<string, PrometheusFamily> => {
    if (!current) {
      current = new Map(collectFamilies(pools(), resolved).map((f) => [f.name, f]));
      queueMicrotask(() => (current = undefined));
    }
    return current;
  };

  // The family names do not depend on the pools: take them from an empty collection.
  const templates = collectFamilies([], resolved);
  for (const t of templates) {
    if (registry.getSingleMetric(t.name) !== undefined) throw new Error(`a metric named ${t.name} is already registered on this prom-client registry`);
  }
  const names: string[] = [];
  for (const t of templates) {
    const metric = {
      name: t.name,
      help: t.help,
      type: t.type,
      aggregator: t.aggregator,
      get: async (): Promise<PromClientMetricValues> => {
        // In OpenMetrics mode prom-client renames counters just before asking for their values (it strips
        // `_total` from `name`, then appends it to each sample). Report the name it set for this scrape,
        // then restore ours, so that a later scrape in the Prometheus format still says `_total`.
        const name = metric.name;
        metric.name = t.name;
        return {
          name,
          help: t.help,
          type: t.type,
          aggregator: t.aggregator,
          values: (collect().get(t.name)?.samples ?? []).map((s) =>
            // Counter and gauge samples carry the family's name; histogram ones their _bucket/_sum/_count name.
            s.name === t.name ? { value: s.value, labels: s.labels } : { value: s.value, labels: s.labels, metricName: s.name },
          ),
        };
      },
      // registry.resetMetrics(): the pools' numbers are not prom-client's to reset (use pool.metrics.reset()).
      reset: (): void => undefined,
    };
    registry.registerMetric(metric as never);
    names.push(t.name);
  }
  return () => {
    for (const name of names) registry.removeSingleMetric(name);
  };
}

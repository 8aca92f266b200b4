// OpenTelemetry SDK set-up for the specs: in-memory spans, a metric reader collected on demand, and the
// global registrations undone afterwards.
import { context, metrics, propagation, trace, type Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** A reader that exports nothing by itself: the test calls collect(). No timer. */
export class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export interface OtelHarness {
  spans: InMemorySpanExporter;
  tracerProvider: NodeTracerProvider;
  meterProvider: MeterProvider;
  reader: CollectingReader;
  /** Every metric of the last collection, by name. */
  collect(): Promise<Map<string, MetricData>>;
  /** Shuts the SDK down and removes every global registration. */
  close(): Promise<void>;
}

/**
 * Registers a NodeTracerProvider (AsyncLocalStorage context manager, W3C trace context + baggage
 * propagators) with an in-memory exporter, and, if `globalMeter`, a MeterProvider as the global one.
 */
export function startOtel(opts: { globalMeter?: boolean } = {}): OtelHarness {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  tracerProvider.register();
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  if (opts.globalMeter) metrics.setGlobalMeterProvider(meterProvider);
  return {
    spans,
    tracerProvider,
    meterProvider,
    reader,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length) throw errors[0];
      return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
    },
    async close() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      disableOtelGlobals();
    },
  };
}

export function disableOtelGlobals(): void {
  trace.disable();
  context.disable();
  propagation.disable();
  metrics.disable();
}

/** The data points of `metric` whose attributes include `attributes`. */
export function pointsOf<T = number>(metric: MetricData | undefined, attributes: Attributes = {}): Array<DataPoint<T>> {
  if (!metric) throw new Error('no such metric');
  return (metric.dataPoints as Array<DataPoint<T>>).filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
}

/** The value of the one data point of a sum or gauge metric matching `attributes`. */
export function valueOf(all: Map<string, MetricData>, name: string, attributes: Attributes = {}): number {
  const points = pointsOf<number>(all.get(name), attributes);
  if (points.length !== 1) throw new Error(`${name} ${JSON.stringify(attributes)}: ${points.length} points`);
  return points[0]!.value;
}

/** The count of the one data point of a histogram metric matching `attributes` (and, if given, no `error.type`). */
export function histogramCount(all: Map<string, MetricData>, name: string, attributes: Attributes = {}): number {
  const metric = all.get(name);
  if (!metric || metric.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
  const points = pointsOf<Histogram>(metric, attributes);
  if (points.length !== 1) throw new Error(`${name} ${JSON.stringify(attributes)}: ${points.length} points`);
  return points[0]!.value.count;
}

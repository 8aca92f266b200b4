import { HISTOGRAM_BOUNDS_MS, LatencyHistogram } from '../core/histogram';
import type { McpPool } from '../core/mcp-pool';
import type { PoolMetrics } from '../core/metrics';

/**
 * Default bucket bounds of the exported histograms, in seconds: powers of two from 128 µs to about 134 s
 * (21 buckets, plus +Inf). Every one is an exact edge of the pool's internal histogram (whose buckets are
 * 2^(1/4) apart, from 1 µs), so the exported counts are exact, not interpolated.
 */
export const DEFAULT_PROMETHEUS_BUCKETS_SECONDS: readonly number[] = Array.from({ length: 21 }, (_, i) => 2 ** (i + 7) / 1e6);

/** Cumulative bucket counts of one histogram for a set of export bounds. */
export interface ExportedHistogram {
  /** Export bounds (seconds), ascending, each with the number of samples at or below it. */
  buckets: Array<{ le: number; count: number }>;
  /** Every sample (the +Inf bucket). */
  count: number;
  /** Sum of the samples, in seconds. */
  sumSeconds: number;
}

/**
 * For each export bound (seconds), the index of the last internal bucket whose upper edge is at or below
 * it (-1 when none is). A bound that is not an internal edge is thus counted up to the edge below it: at
 * most one internal bucket (about 19%) of samples just under the bound are left to the next bucket.
 */
export function internalIndexes(boundsSeconds: readonly number[]): number[] {
  return boundsSeconds.map((seconds) => {
    const ms = seconds * 1000 * (1 + 1e-9); // tolerance: 2^k µs computed two ways may differ in the last bit
    let index = -1;
    for (let i = 0; i < HISTOGRAM_BOUNDS_MS.length && HISTOGRAM_BOUNDS_MS[i]! <= ms; i++) index = i;
    return index;
  });
}

/** Checks export bounds: finite, positive and strictly ascending. Throws a TypeError naming the problem. */
export function checkBuckets(boundsSeconds: readonly number[]): void {
  if (!Array.isArray(boundsSeconds) || boundsSeconds.length === 0) throw new TypeError('buckets must be a non-empty array of seconds');
  boundsSeconds.forEach((b, i) => {
    if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0) throw new TypeError(`buckets[${i}] must be a finite number of seconds > 0`);
    if (i > 0 && b <= boundsSeconds[i - 1]!) throw new TypeError(`buckets must be strictly ascending (buckets[${i}] is not)`);
  });
}

/** Coarsens a pool histogram to the export bounds (the internal indexes from {@link internalIndexes}). */
export function exportHistogram(h: LatencyHistogram, boundsSeconds: readonly number[], indexes: readonly number[]): ExportedHistogram {
  const buckets: ExportedHistogram['buckets'] = [];
  let cumulative = 0;
  let next = 0; // next internal bucket to add
  for (let j = 0; j < boundsSeconds.length; j++) {
    const upTo = indexes[j]!;
    for (; next <= upTo; next++) cumulative += h.counts[next]!;
    buckets.push({ le: boundsSeconds[j]!, count: cumulative });
  }
  return { buckets, count: h.count, sumSeconds: h.sum / 1000 };
}

/**
 * The borrow-wait and call-latency histograms of a pool, its identity partitions included (as
 * `metrics.snapshot()` sums their counters).
 */
export function poolHistograms(pool: McpPool): { borrowWait: LatencyHistogram; callLatency: LatencyHistogram } {
  return pool.metrics.histograms();
}

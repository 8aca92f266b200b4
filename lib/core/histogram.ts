/**
 * A bounded latency histogram: fixed exponential buckets (ratio 2^(1/4), about 19% wide) from 1 µs to
 * about 2 minutes. Recording is O(1) with no allocation; percentiles are read from the buckets, so memory
 * does not grow with the number of samples. The same buckets feed the Prometheus export.
 */
const RATIO = 2 ** 0.25;
const MIN_MS = 0.001;
const BUCKETS = 110; // MIN_MS * RATIO^109 ≈ 1.6e5 ms

/** Upper bounds (ms) of the buckets; the last one catches everything above. */
export const HISTOGRAM_BOUNDS_MS: readonly number[] = Array.from({ length: BUCKETS }, (_, i) =>
  i === BUCKETS - 1 ? Infinity : MIN_MS * RATIO ** i,
);
const LOG_RATIO = Math.log(RATIO);

export interface PercentileSummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    let i = v <= MIN_MS ? 0 : Math.ceil(Math.log(v / MIN_MS) / LOG_RATIO);
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.counts[i]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** The q-quantile (0..1), as the upper bound of the bucket that holds it (capped by the max seen). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(HISTOGRAM_BOUNDS_MS[i]!, this.max);
    }
    return this.max;
  }

  summary(): PercentileSummary {
    return {
      count: this.count,
      p50: round3(this.quantile(0.5)),
      p95: round3(this.quantile(0.95)),
      p99: round3(this.quantile(0.99)),
      max: round3(this.max),
    };
  }

  /** Adds another histogram's samples to this one (aggregating partitions). */
  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = this.sum = this.max = 0;
  }
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

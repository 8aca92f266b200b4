import { LatencyHistogram, PercentileSummary, round3 } from './histogram';
import type { CircuitState } from './circuit-breaker';

/** Live numbers the pool reports for a snapshot (gauges), read at snapshot time. */
export interface PoolGauges {
  active: number;
  idle: number;
  total: number;
  inFlight: number;
  waiting: number;
  creating: number;
  circuitState: CircuitState;
  state: string;
}

/**
 * A point-in-time copy of a pool's metrics. Keys follow the Python original (camelCased), plus waiting,
 * creating, circuit state and percentiles.
 */
export interface McpPoolMetricsSnapshot extends PoolGauges {
  pool: string;
  /** Identity partitions open (slices of this pool: their sessions and calls are in every other field). */
  partitions: number;
  borrowCount: number;
  returnCount: number;
  avgBorrowWaitMs: number;
  borrowWaitMs: PercentileSummary;
  callLatencyMs: PercentileSummary;
  calls: number;
  callErrors: number;
  callTimeouts: number;
  cacheHits: number;
  cacheMisses: number;
  cacheHitRate: number;
  cacheRefreshCount: number;
  cacheWaiters: number;
  reconnectCount: number;
  retryAttempts: number;
  healthCheckCount: number;
  healthCheckFailures: number;
  recycledCount: number;
  sessionsCreated: number;
  sessionsDestroyed: number;
  sessionCreateFailures: number;
  acquireTimeouts: number;
  errors: number;
  uptimeMs: number;
}

/** Counters of one pool. Plain numeric fields, bumped on the hot path without allocation. */
export class PoolMetrics {
  borrowCount = 0;
  returnCount = 0;
  calls = 0;
  callErrors = 0;
  callTimeouts = 0;
  cacheHits = 0;
  cacheMisses = 0;
  cacheRefreshCount = 0;
  cacheWaiters = 0;
  reconnectCount = 0;
  retryAttempts = 0;
  healthCheckCount = 0;
  healthCheckFailures = 0;
  recycledCount = 0;
  sessionsCreated = 0;
  sessionsDestroyed = 0;
  sessionCreateFailures = 0;
  acquireTimeouts = 0;
  /** Every error the pool raised or passed on (call errors, timeouts, failed acquires, failed creations). */
  errors = 0;
  readonly borrowWait = new LatencyHistogram();
  readonly callLatency = new LatencyHistogram();
  private startedAt = Date.now();

  constructor(
    private readonly poolName: string,
    private readonly gauges: () => PoolGauges,
    /** How many identity partitions are open (a gauge; their sessions are in every other number). */
    private readonly partitions: () => number = () => 0,
  ) {}

  /** The live borrow-wait and call-latency histograms (every partition's calls included: they are one pool's). */
  histograms(): { borrowWait: LatencyHistogram; callLatency: LatencyHistogram } {
    return { borrowWait: this.borrowWait, callLatency: this.callLatency };
  }

  /** A copy of every counter, gauge and percentile; later changes do not show in it. */
  snapshot(): McpPoolMetricsSnapshot {
    return this.ownSnapshot();
  }

  private ownSnapshot(): McpPoolMetricsSnapshot {
    const g = this.gauges();
    const lookups = this.cacheHits + this.cacheMisses;
    return {
      pool: this.poolName,
      ...g,
      partitions: this.partitions(),
      borrowCount: this.borrowCount,
      returnCount: this.returnCount,
      avgBorrowWaitMs: this.borrowWait.count ? round3(this.borrowWait.sum / this.borrowWait.count) : 0,
      borrowWaitMs: this.borrowWait.summary(),
      callLatencyMs: this.callLatency.summary(),
      calls: this.calls,
      callErrors: this.callErrors,
      callTimeouts: this.callTimeouts,
      cacheHits: this.cacheHits,
      cacheMisses: this.cacheMisses,
      cacheHitRate: lookups ? round3(this.cacheHits / lookups) : 0,
      cacheRefreshCount: this.cacheRefreshCount,
      cacheWaiters: this.cacheWaiters,
      reconnectCount: this.reconnectCount,
      retryAttempts: this.retryAttempts,
      healthCheckCount: this.healthCheckCount,
      healthCheckFailures: this.healthCheckFailures,
      recycledCount: this.recycledCount,
      sessionsCreated: this.sessionsCreated,
      sessionsDestroyed: this.sessionsDestroyed,
      sessionCreateFailures: this.sessionCreateFailures,
      acquireTimeouts: this.acquireTimeouts,
      errors: this.errors,
      uptimeMs: Date.now() - this.startedAt,
    };
  }

  /** Zeroes every counter and histogram (gauges are live and unaffected). */
  reset(): void {
    for (const key of Object.keys(this) as Array<keyof this>) {
      if (typeof this[key] === 'number') (this as Record<string, unknown>)[key as string] = 0;
    }
    this.borrowWait.reset();
    this.callLatency.reset();
    this.startedAt = Date.now();
  }
}

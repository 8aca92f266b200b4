import { setMaxListeners } from 'node:events';
import { withoutRequestContext } from '../context/request-context';
import type { Borrower } from './borrower';
import type { CallPipeline } from './call-pipeline';
import type { Capacity } from './capacity';
import { CircuitBreaker } from './circuit-breaker';
import type { DriverSession, McpProtocolEra, SessionDriver } from './driver';
import { PoolClosedError, errorMessage, type McpProtocolVersionError, type PoolStateSummary } from './errors';
import { PoolEvents } from './events';
import type { LeaseHost } from './lease';
import type { Maintenance } from './maintenance';
import { PoolMetrics, type PoolGauges } from './metrics';
import type { ResolvedPoolOptions } from './options';
import type { PartitionRouter } from './partition-router';
import { RateLimiter } from './rate-limiter';
import { RetryBudget } from './retry-budget';
import type { RetryPolicy } from './retry-policy';
import { Closings, PoolTotals } from './session-store';

/** `created → starting → running → draining → closed`. */
export type PoolLifecycle = 'created' | 'starting' | 'running' | 'draining' | 'closed';

export type LogLevel = 'debug' | 'log' | 'warn' | 'error';

/**
 * What the parts of one pool share: the endpoint's state (lifecycle, circuit, rate limiter, retry
 * budget, totals over every slice, metrics, events) and the parts themselves, wired once by the facade.
 * Plain fields, as in undici's pool-base: the parts read them on the hot path.
 */
export class PoolContext {
  readonly name: string;
  lifecycle: PoolLifecycle = 'created';
  /** markShuttingDown() was called: health is down, calls still work. */
  shuttingDown = false;
  /** The last creation error of any slice since the pool's last successful creation. */
  lastCreateFailure: unknown;
  /**
   * The server speaks no protocol version this pool offers (a configuration error): creation stops, and
   * every caller gets this at once while no session is up. No backoff, no circuit.
   */
  incompatible: McpProtocolVersionError | undefined;
  /** The era the last session created negotiated (for health and tracing). */
  lastEra: McpProtocolEra | undefined;
  readonly totals = new PoolTotals();
  readonly closings = new Closings();
  readonly events: PoolEvents;
  readonly metrics: PoolMetrics;
  /** One per endpoint: every slice's creations count toward it and wait on it. */
  readonly circuit: CircuitBreaker;
  /** One per endpoint: the server's limit is the same whoever calls. */
  readonly rateLimiter: RateLimiter | undefined;
  readonly retryBudget = new RetryBudget();
  /** Aborted when the pool starts draining: ends the waits that hold no lease (the rate limiter's). */
  private readonly drainController = new AbortController();
  /** Set by shutdown while it waits for leases to come back; called when the last one does. */
  drained: (() => void) | undefined;

  // The parts, wired by McpPool's constructor.
  router!: PartitionRouter;
  borrower!: Borrower;
  capacity!: Capacity;
  pipeline!: CallPipeline;
  retry!: RetryPolicy;
  maintenance!: Maintenance;
  host!: LeaseHost;
  /** A session joined the shared slice: waitReady() callers may be due. */
  onSessionAdded: () => void = () => undefined;

  constructor(
    readonly options: ResolvedPoolOptions,
    readonly driver: SessionDriver,
  ) {
    this.name = options.name;
    // Every call waiting for the rate limiter listens for the drain (and stops listening when admitted):
    // many at once is normal, not a leak.
    setMaxListeners(0, this.drainController.signal);
    this.events = new PoolEvents((event, error) => this.log('warn', `a listener of "${event}" threw: ${errorMessage(error)}`));
    this.circuit = new CircuitBreaker(options, Math.random, (from, to) => {
      if (to === 'open') this.log('error', `circuit opened after ${this.circuit.consecutiveFailures} failed session creations`);
      else this.log('log', `circuit ${to}`);
      this.events.emit('circuitStateChanged', { pool: this.name, from, to, error: to === 'open' ? this.circuit.lastError : undefined });
    });
    this.rateLimiter = options.rateLimit ? new RateLimiter(options.rateLimit.requestsPerSecond, options.rateLimit.burst) : undefined;
    this.metrics = new PoolMetrics(
      this.name,
      () => this.gauges(),
      () => this.router.partitionCount,
    );
  }

  /** Whether new work is taken (running, or warming up). */
  get accepting(): boolean {
    return this.lifecycle === 'running' || this.lifecycle === 'starting';
  }

  get drainSignal(): AbortSignal {
    return this.drainController.signal;
  }

  setLifecycle(to: PoolLifecycle): void {
    const from = this.lifecycle;
    if (from === to) return;
    this.lifecycle = to;
    if (to === 'draining') this.drainController.abort(new PoolClosedError(this.name, 'draining'));
    this.events.emit('stateChanged', { pool: this.name, from, to });
  }

  /** Closes a session outside every caller's context (its DELETE carries nobody's headers); tracked for shutdown. */
  closeSession(ds: DriverSession): void {
    this.closings.close(ds, withoutRequestContext);
  }

  gauges(): PoolGauges {
    let idle = 0;
    let active = 0;
    for (const slice of this.router.slices()) {
      for (const rec of slice.store.records) {
        if (rec.inFlight > 0) active++;
        else if (rec.state === 'ready') idle++;
      }
    }
    const t = this.totals;
    return {
      state: this.lifecycle,
      active,
      idle,
      total: t.records,
      inFlight: t.leased,
      waiting: t.waiting,
      creating: t.creating,
      circuitState: this.circuit.poll(Date.now()),
    };
  }

  summary(): PoolStateSummary {
    const g = this.gauges();
    return { total: g.total, idle: g.idle, inFlight: g.inFlight, waiting: g.waiting, creating: g.creating, circuit: g.circuitState };
  }

  log(level: LogLevel, message: string): void {
    const logger = this.options.logger;
    if (!logger) return;
    const text = `mcp pool "${this.name}": ${message}`;
    if (level === 'debug') logger.debug?.(text);
    else logger[level](text);
  }
}

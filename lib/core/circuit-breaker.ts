/**
 * Creation backoff and circuit breaker of one pool.
 *
 * While the endpoint fails, creations are serialised and spaced by capped exponential backoff with full
 * jitter (AWS's "full jitter": delay = random(0, min(cap, base * 2^n))). After `failureThreshold`
 * consecutive failures the circuit opens; then exactly one probe runs (half-open): success closes it,
 * failure opens it again.
 *
 * The open interval starts at `recoveryInitialMs` and doubles with each failed probe, capped at
 * `recoveryTimeoutMs`; a success resets it. A short first wait turns a server restart of a few seconds
 * into an outage of a few seconds (a fixed 30 s wait made it 30 s), while a server that stays down is
 * soon probed only every `recoveryTimeoutMs`: one creation attempt per interval, however many callers.
 *
 * Each open interval is shortened by up to {@link OPEN_JITTER} at random (HikariCP's negative lifetime
 * variance, not full jitter). Jitter is there so that the replicas of an app, which all lost the same
 * server at the same moment, do not probe it in lockstep; taking it off the interval rather than adding
 * it keeps both options upper bounds (no open interval is longer than `recoveryTimeoutMs`, the first is
 * at most `recoveryInitialMs`), and the 80% floor keeps an open circuit open: full jitter could draw a
 * wait near 0 and probe a dead server again at once.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  failureThreshold: number;
  /** First open interval; larger than `recoveryTimeoutMs` counts as `recoveryTimeoutMs`. */
  recoveryInitialMs: number;
  /** Cap of the open interval. */
  recoveryTimeoutMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

/** Largest fraction taken off an open interval at random. */
export const OPEN_JITTER = 0.2;

export class CircuitBreaker {
  state: CircuitState = 'closed';
  consecutiveFailures = 0;
  lastError: unknown;
  /** When the open circuit lets a probe through. */
  openUntil = 0;
  /** Earliest time the next creation attempt may start (backoff). */
  nextAttemptAt = 0;
  /** The next open interval before jitter: recoveryInitialMs, doubled by each failed probe, capped. */
  openIntervalMs: number;

  constructor(
    private readonly opts: CircuitOptions,
    private readonly random: () => number = Math.random,
    /** Told of every state change. */
    private readonly onChange: (from: CircuitState, to: CircuitState) => void = () => undefined,
  ) {
    this.openIntervalMs = this.firstIntervalMs();
  }

  private firstIntervalMs(): number {
    return Math.min(this.opts.recoveryInitialMs, this.opts.recoveryTimeoutMs);
  }

  private moveTo(to: CircuitState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.onChange(from, to);
  }

  /** True while creations are failing: creations are then serialised. */
  get failing(): boolean {
    return this.consecutiveFailures > 0;
  }

  onSuccess(): void {
    this.consecutiveFailures = 0;
    this.lastError = undefined;
    this.nextAttemptAt = 0;
    // The endpoint works again: the next outage starts over with the short first wait.
    this.openIntervalMs = this.firstIntervalMs();
    this.moveTo('closed');
  }

  /** Records a failed creation; returns true if this failure opened the circuit. */
  onFailure(error: unknown, now: number): boolean {
    this.lastError = error;
    this.consecutiveFailures++;
    // Already open: a creation started before the circuit opened has failed too. It tells nothing new
    // about the endpoint, so it neither moves the probe nor lengthens the next wait.
    if (this.state === 'open') return false;
    if (this.state === 'half-open') {
      // The probe failed: the endpoint is still down. Probe half as often from now on, up to the cap.
      this.openIntervalMs = Math.min(this.opts.recoveryTimeoutMs, this.openIntervalMs * 2);
      this.open(now);
      return true;
    }
    if (this.consecutiveFailures >= this.opts.failureThreshold) {
      this.open(now);
      return true;
    }
    const exp = Math.min(this.opts.retryMaxDelayMs, this.opts.retryBaseDelayMs * 2 ** (this.consecutiveFailures - 1));
    this.nextAttemptAt = now + this.random() * exp;
    return false;
  }

  private open(now: number): void {
    this.openUntil = now + this.openIntervalMs * (1 - OPEN_JITTER * this.random());
    this.nextAttemptAt = this.openUntil;
    this.moveTo('open');
  }

  /** Moves open → half-open once the open interval has passed. Returns the state. */
  poll(now: number): CircuitState {
    if (this.state === 'open' && now >= this.openUntil) this.moveTo('half-open');
    return this.state;
  }
}

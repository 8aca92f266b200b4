/**
 * Creation backoff and circuit breaker of one pool.
 *
 * While the endpoint fails, creations are serialised and spaced by capped exponential backoff with full
 * jitter (AWS's "full jitter": delay = random(0, min(cap, base * 2^n))). After `failureThreshold`
 * consecutive failures the circuit opens for `recoveryTimeoutMs`; then exactly one probe runs
 * (half-open): success closes it, failure opens it again.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  failureThreshold: number;
  recoveryTimeoutMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

export class CircuitBreaker {
  state: CircuitState = 'closed';
  consecutiveFailures = 0;
  lastError: unknown;
  /** When the open circuit lets a probe through. */
  openUntil = 0;
  /** Earliest time the next creation attempt may start (backoff). */
  nextAttemptAt = 0;

  constructor(
    private readonly opts: CircuitOptions,
    private readonly random: () => number = Math.random,
    /** Told of every state change. */
    private readonly onChange: (from: CircuitState, to: CircuitState) => void = () => undefined,
  ) {}

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
    this.moveTo('closed');
  }

  /** Records a failed creation; returns true if this failure opened the circuit. */
  onFailure(error: unknown, now: number): boolean {
    this.lastError = error;
    this.consecutiveFailures++;
    const wasOpen = this.state === 'open';
    if (this.state === 'half-open' || this.consecutiveFailures >= this.opts.failureThreshold) {
      this.openUntil = now + this.opts.recoveryTimeoutMs;
      this.nextAttemptAt = this.openUntil;
      this.moveTo('open');
      return !wasOpen;
    }
    const exp = Math.min(this.opts.retryMaxDelayMs, this.opts.retryBaseDelayMs * 2 ** (this.consecutiveFailures - 1));
    this.nextAttemptAt = now + this.random() * exp;
    return false;
  }

  /** Moves open → half-open once the recovery time has passed. Returns the state. */
  poll(now: number): CircuitState {
    if (this.state === 'open' && now >= this.openUntil) this.moveTo('half-open');
    return this.state;
  }
}

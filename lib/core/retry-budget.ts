/**
 * Bounds retries so that a flapping server is not hammered: retries may add at most `ratio` of the
 * calls made in the last window, plus `minPerWindow` (Finagle's RetryBudget, simplified to two windows).
 */
export class RetryBudget {
  private windowStart = 0;
  private calls = 0;
  private retries = 0;
  private prevCalls = 0;
  private prevRetries = 0;

  constructor(
    private readonly ratio = 0.2,
    private readonly minPerWindow = 10,
    private readonly windowMs = 10_000,
  ) {}

  recordCall(now: number): void {
    this.roll(now);
    this.calls++;
  }

  /** Takes one retry if the budget allows it. */
  tryRetry(now: number): boolean {
    this.roll(now);
    const allowed = this.minPerWindow + this.ratio * (this.calls + this.prevCalls);
    if (this.retries + this.prevRetries >= allowed) return false;
    this.retries++;
    return true;
  }

  private roll(now: number): void {
    if (now - this.windowStart < this.windowMs) return;
    const skipped = now - this.windowStart >= 2 * this.windowMs;
    this.prevCalls = skipped ? 0 : this.calls;
    this.prevRetries = skipped ? 0 : this.retries;
    this.calls = this.retries = 0;
    this.windowStart = now;
  }
}

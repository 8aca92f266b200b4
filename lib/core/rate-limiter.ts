/**
 * A token bucket without a lock: each request reserves the next free send time and sleeps until then, so
 * waiting requests hold nothing but their own timer. A server's 429 pauses the bucket (`pauseUntil`).
 *
 * Steady rate `requestsPerSecond`; up to `burst` requests may go at once after a quiet period.
 */
export class RateLimiter {
  private readonly intervalMs: number;
  /** The earliest time the next request may be sent (the bucket is full when this is ≤ now - burst·interval). */
  private nextAt = 0;
  private pausedUntil = 0;

  constructor(
    requestsPerSecond: number,
    private readonly burst: number,
  ) {
    this.intervalMs = 1000 / requestsPerSecond;
  }

  /** How long the caller must wait before sending; reserves its place. */
  reserve(now: number): number {
    const earliest = Math.max(this.nextAt, now - (this.burst - 1) * this.intervalMs, this.pausedUntil);
    this.nextAt = earliest + this.intervalMs;
    return Math.max(0, earliest - now);
  }

  /** A reservation that will not be used (its caller gave up): the next caller may have its place. */
  refund(): void {
    this.nextAt -= this.intervalMs;
  }

  /** The server said 429 with Retry-After: nobody sends before `until`. */
  pauseUntil(until: number): void {
    if (until > this.pausedUntil) this.pausedUntil = until;
  }
}

/** The longest pause a server's Retry-After may impose: a header of hours (or a bogus date) is not obeyed as is. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Sleeps `ms`, or rejects with the reason of the first of `signals` that aborts. */
export function sleep(ms: number, ...signals: Array<AbortSignal | undefined>): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  const watched = signals.filter((s): s is AbortSignal => s !== undefined);
  const aborted = watched.find((s) => s.aborted);
  if (aborted) return Promise.reject(aborted.reason);
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      for (const s of watched) s.removeEventListener('abort', onAbort);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    const onAbort = function (this: AbortSignal) {
      done();
      reject(this.reason);
    };
    for (const s of watched) s.addEventListener('abort', onAbort, { once: true });
  });
}

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

  /** The server said 429 with Retry-After: nobody sends before `until`. */
  pauseUntil(until: number): void {
    if (until > this.pausedUntil) this.pausedUntil = until;
  }
}

/** Sleeps `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

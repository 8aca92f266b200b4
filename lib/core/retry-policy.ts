import { withoutRequestContext } from '../context/request-context';
import type { AcquireOptions } from './borrower';
import { ASKED_CALLER, LOCAL_LIMIT } from './call-pipeline';
import { CallTimeoutError, RateLimitedError, SessionLostError } from './errors';
import type { CallOptions, McpLease } from './lease';
import type { PoolContext } from './pool-context';
import type { PoolSlice } from './pool-slice';

/** Options of a pool-level call: the borrow and the request. */
export interface PoolCallOptions extends CallOptions {
  acquireTimeoutMs?: number;
  affinityKey?: string;
}

/**
 * When a pool-level call goes once more, on a fresh borrow: a session lost when the call certainly did not
 * run, or when it may have but is safe to repeat (read-only or idempotent); a server's 429 once the pause
 * it asked for is over. Every retry draws on the pool's one retry budget, so a flapping server is not
 * hammered. With a rate limiter, admission comes before the slot is taken.
 */
export class RetryPolicy {
  constructor(private readonly ctx: PoolContext) {}

  async withRetry<T>(slice: PoolSlice, fn: (lease: McpLease) => Promise<T>, opts: PoolCallOptions | undefined, safeToRepeat: () => boolean): Promise<T> {
    const ctx = this.ctx;
    ctx.retryBudget.recordCall(Date.now());
    const headers = opts?.headers ? ctx.pipeline.checkHeaders(opts.headers) : undefined;
    // The call counts as using its slice for its whole run, not only while it holds a lease or waits in the
    // queue: a partition whose caller sits in the rate limiter (or between a failure and its retry) holds
    // nothing, and must not be pushed out of the table under it.
    slice.users++;
    try {
      return await this.once(slice, fn, opts, headers);
    } catch (error) {
      // A call that asked its caller (an elicitation, a sampling) is not run again behind their back.
      if (typeof error === 'object' && error !== null && ASKED_CALLER.has(error)) throw error;
      // A 429 means the call did not run: with a rate limiter, it waits out the pause and goes once more.
      if (error instanceof RateLimitedError && error.cause !== LOCAL_LIMIT && ctx.rateLimiter && ctx.retryBudget.tryRetry(Date.now())) {
        ctx.metrics.retryAttempts++;
        return await this.once(slice, fn, opts, headers); // awaited: the finally below must wait for the retry
      }
      if (!(error instanceof SessionLostError) || (error.mayHaveRun && !safeToRepeat()) || !ctx.retryBudget.tryRetry(Date.now())) {
        throw error;
      }
      ctx.metrics.retryAttempts++;
      return await this.once(slice, fn, opts, headers);
    } finally {
      slice.users--;
    }
  }

  /**
   * One list walk the pool makes for itself (a cache miss shared by every caller that joins it): outside
   * every caller's async context (no caller's headers), with no caller's signal, under one deadline of
   * `callTimeoutMs` for every page together; a retry on a fresh session if a session is lost under it.
   */
  walkAsPool<T>(slice: PoolSlice, method: string, walk: (lease: McpLease, options: CallOptions) => Promise<T>): Promise<T> {
    const ctx = this.ctx;
    return withoutRequestContext(() => {
      const ms = ctx.options.callTimeoutMs;
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new CallTimeoutError(ctx.name, `${method} (every page)`, ms)), ms);
      return this.withRetry(slice, (l) => walk(l, { signal: deadline.signal, timeoutMs: ms }), { signal: deadline.signal }, () => true)
        .catch((error: unknown) => {
          throw deadline.signal.aborted ? deadline.signal.reason : error;
        })
        .finally(() => clearTimeout(timer));
    });
  }

  /**
   * One borrow and `fn` on it. Behind the rate limiter, admission comes first, while the caller holds
   * nothing (a call waiting for the limiter must not sit on a slot another call could use); the lease's
   * first request is then already admitted.
   */
  private once<T>(slice: PoolSlice, fn: (lease: McpLease) => Promise<T>, opts: (PoolCallOptions & AcquireOptions) | undefined, headers: Record<string, string> | undefined): Promise<T> {
    // Not an async function: without a rate limiter, the borrow's own promise is the call's (one async frame
    // less on every pool-level call).
    if (!this.ctx.rateLimiter) return this.ctx.borrower.session(slice, fn, opts, headers);
    return this.admitted(slice, fn, opts, headers);
  }

  private async admitted<T>(slice: PoolSlice, fn: (lease: McpLease) => Promise<T>, opts: (PoolCallOptions & AcquireOptions) | undefined, headers: Record<string, string> | undefined): Promise<T> {
    const ctx = this.ctx;
    await ctx.pipeline.admit('call', opts?.signal, opts?.acquireTimeoutMs ?? ctx.options.acquireTimeoutMs);
    return ctx.borrower.session(
      slice,
      (lease) => {
        lease.prepaid = true;
        return fn(lease);
      },
      opts,
      headers,
    );
  }
}

import { currentMcpHeaders, mergeHeaders, runWithMcpHeaders } from '../context/request-context';
import {
  AcquireTimeoutError,
  OperationAbortedError,
  PoolClosedError,
  PoolExhaustedError,
  PoolUnavailableError,
  TenantLimitError,
} from './errors';
import { McpLease } from './lease';
import type { PoolContext } from './pool-context';
import type { PoolSlice } from './pool-slice';
import type { SessionRecord } from './session-record';
import type { Waiter } from './waiter-queue';

/** Options of one borrow. */
export interface AcquireOptions {
  /** Gives up waiting (the waiter leaves the queue at once). */
  signal?: AbortSignal;
  /** End-to-end deadline of this borrow, creation included; default the pool's `acquireTimeoutMs`. */
  acquireTimeoutMs?: number;
  /** HTTP headers added to every call made with this lease. */
  headers?: Record<string, string>;
  /**
   * Prefer the session last used with this key (a conversation, a user) when it has a free slot; otherwise
   * any session, which the key is then bound to.
   */
  affinityKey?: string;
}

/**
 * Lends slots and takes them back: fairness (a newcomer queues behind anyone waiting), affinity, tenant
 * accounting, waiting with a deadline and an abort, leak detection. Works on one slice at a time; the
 * limits it checks (`maxWaiters`, tenants) are the pool's, over every slice.
 */
export class Borrower {
  /** Leases held per tenant (tenantLimit). */
  private readonly tenants = new Map<string, number>();
  // Read once: these options never change after construction (resize changes only min/maxSessions).
  private readonly tenantLimited: boolean;
  private readonly leakThresholdMs: number;

  constructor(private readonly ctx: PoolContext) {
    this.tenantLimited = ctx.options.tenantLimit !== undefined;
    this.leakThresholdMs = ctx.options.leakDetectionThresholdMs;
  }

  /**
   * A lease at once when a slot is free (no promise: the hot path of pool-level calls saves a microtask
   * hop), else a promise of one; throws synchronously what acquire() would reject with at once.
   * `headers` are already checked.
   */
  acquireNow(slice: PoolSlice, opts: AcquireOptions | undefined, headers: Record<string, string> | undefined): McpLease | Promise<McpLease> {
    const tenant = this.tenantLimited ? this.takeTenantSlot(headers) : undefined;
    const now = Date.now();
    let rec: SessionRecord | undefined;
    try {
      rec = this.takeNow(slice, opts?.affinityKey);
    } catch (error) {
      this.releaseTenantSlot(tenant);
      throw error;
    }
    if (rec) return this.lend(slice, rec, now, now, headers, tenant, opts?.affinityKey);
    let waiting: Promise<SessionRecord>;
    try {
      waiting = this.wait(slice, opts, now);
    } catch (error) {
      this.releaseTenantSlot(tenant);
      throw error;
    }
    return waiting.then(
      (r) => this.lend(slice, r, now, Date.now(), headers, tenant, opts?.affinityKey),
      (error: unknown) => {
        this.releaseTenantSlot(tenant);
        throw error;
      },
    );
  }

  /** A lease at once, or null when no slot is free right now (never waits on creation). */
  tryAcquire(slice: PoolSlice, headers: Record<string, string> | undefined): McpLease | null {
    const tenant = this.tenantLimited ? this.takeTenantSlot(headers) : undefined;
    const now = Date.now();
    let rec: SessionRecord | undefined;
    try {
      rec = this.takeNow(slice);
    } catch (error) {
      this.releaseTenantSlot(tenant); // a draining or closed pool keeps no tenant's count
      throw error;
    }
    if (!rec) {
      this.releaseTenantSlot(tenant);
      this.ctx.capacity.ensure(slice);
      return null;
    }
    return this.lend(slice, rec, now, now, headers, tenant);
  }

  /** Runs `fn` with a lease of `slice` and always returns it, whatever `fn` does. */
  async session<T>(slice: PoolSlice, fn: (lease: McpLease) => Promise<T> | T, opts: AcquireOptions | undefined, headers: Record<string, string> | undefined): Promise<T> {
    const got = this.acquireNow(slice, opts, headers);
    const lease = got instanceof McpLease ? got : await got;
    try {
      // The context also covers calls made on `lease.client` directly.
      return await (lease.headers ? runWithMcpHeaders(lease.headers, () => fn(lease)) : fn(lease));
    } finally {
      lease.release();
    }
  }

  /** Hands free slots of `slice` to its waiters, oldest first. */
  dispatch(slice: PoolSlice): void {
    const { waiters, store } = slice;
    while (!waiters.isEmpty) {
      const rec = store.slots.pick();
      if (!rec) return;
      const w = waiters.shift()!;
      store.claim(rec);
      w.resolve(rec);
    }
  }

  /** Rejects every waiter of every slice (the pool drains). */
  rejectAll(error: () => unknown): void {
    for (const slice of this.ctx.router.slices()) for (const w of slice.waiters.drain()) w.reject(error());
  }

  release(lease: McpLease): void {
    const ctx = this.ctx;
    lease.onRelease?.();
    if (lease.tenant !== undefined) this.releaseTenantSlot(lease.tenant);
    const rec = lease.record;
    const slice = rec.slice;
    if (ctx.events.has('return')) ctx.events.emit('return', { pool: ctx.name, sessionId: rec.id, heldMs: Date.now() - lease.borrowedAt });
    const idleAt = slice.store.unclaim(rec, Date.now);
    ctx.metrics.returnCount++;
    if (rec.state === 'ready') {
      if (idleAt !== 0 && idleAt >= rec.expiresAt) {
        ctx.capacity.retire(rec, 'lifetime');
      } else {
        this.dispatch(slice);
        // Another identity waits for room under maxSessions: this idle session makes it, unless its own
        // slice still needs it.
        if (idleAt !== 0 && rec.inFlight === 0) ctx.capacity.offerIdle(rec);
      }
    } else if (rec.state === 'retiring' && idleAt !== 0) {
      slice.store.remove(rec, rec.endReason ?? 'idle');
    }
    if (ctx.totals.leased === 0) ctx.drained?.();
  }

  /** Leases held by `tenant` right now (tenantLimit). */
  tenantInFlight(tenant: string): number {
    return this.tenants.get(tenant) ?? 0;
  }

  private takeNow(slice: PoolSlice, affinityKey?: string): SessionRecord | undefined {
    const ctx = this.ctx;
    if (!ctx.accepting) {
      const l = ctx.lifecycle;
      throw new PoolClosedError(ctx.name, l === 'created' ? 'created' : l === 'draining' ? 'draining' : 'closed');
    }
    // Fairness: while anyone waits, a newcomer queues behind them.
    if (!slice.waiters.isEmpty) return undefined;
    let rec: SessionRecord | undefined;
    if (affinityKey !== undefined) {
      const bound = slice.affinity.get(affinityKey);
      if (bound && bound.slotBucket >= 0) rec = bound; // ready, with a free slot
    }
    rec ??= slice.store.slots.pick();
    if (rec) slice.store.claim(rec);
    return rec;
  }

  private wait(slice: PoolSlice, opts: AcquireOptions | undefined, now: number): Promise<SessionRecord> {
    const ctx = this.ctx;
    const signal = opts?.signal;
    if (signal?.aborted) throw new OperationAbortedError(ctx.name, 'acquire', signal.reason);
    // A partition pushed out of the table creates nothing more and is no longer drained: never queue on it
    // (the router counts a call as using its partition for its whole run, so this is a last guard).
    if (slice.closed) throw new PoolClosedError(ctx.name, 'closed');
    const records = slice.store.records.size;
    if (ctx.incompatible && records === 0) throw ctx.incompatible;
    if (ctx.circuit.poll(now) === 'open' && records === 0) {
      throw new PoolUnavailableError(ctx.name, ctx.circuit.openUntil - now, ctx.circuit.lastError);
    }
    if (ctx.totals.waiting >= ctx.options.maxWaiters) {
      ctx.metrics.errors++;
      throw new PoolExhaustedError(
        ctx.name,
        `${ctx.totals.waiting} callers are already waiting (maxWaiters); raise maxSessions or maxWaiters, or shed load`,
        'queue-full',
        ctx.summary(),
      );
    }
    if (slice.auth.pending !== undefined && records === 0) throw slice.auth.pending;
    slice.auth.callerAsks();
    const timeoutMs = opts?.acquireTimeoutMs ?? ctx.options.acquireTimeoutMs;
    return new Promise<SessionRecord>((resolve, reject) => {
      const w: Waiter<SessionRecord> = { resolve, reject, enqueuedAt: now, queued: false };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              if (!slice.waiters.remove(w)) return;
              ctx.metrics.acquireTimeouts++;
              ctx.metrics.errors++;
              reject(new AcquireTimeoutError(ctx.name, timeoutMs, ctx.summary(), slice.auth.lastFailure ?? ctx.lastCreateFailure));
            }, timeoutMs)
          : undefined;
      const onAbort = signal
        ? () => {
            if (slice.waiters.remove(w)) reject(new OperationAbortedError(ctx.name, 'acquire', signal.reason));
          }
        : undefined;
      if (onAbort) signal!.addEventListener('abort', onAbort, { once: true });
      w.cleanup = () => {
        if (timer) clearTimeout(timer);
        if (onAbort) signal!.removeEventListener('abort', onAbort);
      };
      slice.waiters.push(w);
      ctx.capacity.ensure(slice);
    });
  }

  private lend(
    slice: PoolSlice,
    rec: SessionRecord,
    requestedAt: number,
    now: number,
    headers: Record<string, string> | undefined,
    tenant?: string,
    affinityKey?: string,
  ): McpLease {
    const ctx = this.ctx;
    ctx.metrics.borrowCount++;
    ctx.metrics.borrowWait.record(now - requestedAt);
    const lease = new McpLease(ctx.host, rec, headers, now);
    lease.tenant = tenant;
    if (affinityKey !== undefined) slice.affinity.bind(affinityKey, rec);
    if (this.leakThresholdMs > 0) this.watchForLeak(lease);
    if (ctx.events.has('borrow')) ctx.events.emit('borrow', { pool: ctx.name, sessionId: rec.id, waitMs: now - requestedAt });
    return lease;
  }

  /**
   * Leak detection (HikariCP's leakDetectionThreshold): warns, with the stack of the borrow, when a lease
   * is held longer than the threshold. Off by default: capturing a stack costs a few microseconds.
   */
  private watchForLeak(lease: McpLease): void {
    const ctx = this.ctx;
    const borrowedAt = new Error('borrowed here');
    const threshold = this.leakThresholdMs;
    const timer = setTimeout(() => {
      if (lease.isReleased) return;
      ctx.log('warn', `a lease has been held for more than ${threshold} ms (possible leak); ${borrowedAt.stack ?? ''}`);
      ctx.events.emit('leaseLeakSuspected', {
        pool: ctx.name,
        sessionId: lease.record.id,
        heldMs: Date.now() - lease.borrowedAt,
        stack: borrowedAt.stack ?? '',
      });
    }, threshold);
    timer.unref();
    lease.onRelease = () => clearTimeout(timer);
  }

  /** Counts a lease against its tenant, or throws TenantLimitError. Returns the tenant (undefined: unlimited). */
  private takeTenantSlot(headers: Record<string, string> | undefined): string | undefined {
    const limit = this.ctx.options.tenantLimit!;
    const all = headers ? mergeHeaders(currentMcpHeaders(), headers) : (currentMcpHeaders() ?? {});
    const tenant = typeof limit.tenantFrom === 'function' ? limit.tenantFrom(all) : all[limit.tenantFrom.toLowerCase()];
    if (tenant === undefined) return undefined;
    const held = this.tenants.get(tenant) ?? 0;
    if (held >= limit.maxConcurrentPerTenant) {
      this.ctx.metrics.errors++;
      throw new TenantLimitError(this.ctx.name, limit.maxConcurrentPerTenant);
    }
    this.tenants.set(tenant, held + 1);
    return tenant;
  }

  private releaseTenantSlot(tenant: string | undefined): void {
    if (tenant === undefined) return;
    const held = (this.tenants.get(tenant) ?? 1) - 1;
    if (held <= 0) this.tenants.delete(tenant);
    else this.tenants.set(tenant, held);
  }
}

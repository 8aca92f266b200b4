import { withoutRequestContext } from '../context/request-context';
import { PROBE_JITTER, reservedLease } from './capacity';
import type { PoolContext } from './pool-context';
import type { SessionRecord } from './session-record';

/**
 * The pool's background work, on one unref'd timer: health probes of quiet sessions, lifetime and idle
 * retirement, and pushing out partitions unused for `partitionIdleTimeoutMs`. Everything here runs
 * outside every caller's context: no caller's headers on a probe.
 */
export class Maintenance {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: PoolContext) {}

  start(): void {
    const o = this.ctx.options;
    const periods = [o.healthCheckIntervalMs, o.idleTimeoutMs, o.maxSessionLifetimeMs, o.partitionBy ? o.partitionIdleTimeoutMs : 0].filter((p) => p > 0);
    if (periods.length === 0) return;
    const tick = Math.min(1000, Math.max(10, Math.floor(Math.min(...periods) / 4)));
    // Timers inherit the async context they are created in: keep callers' headers out of probes.
    this.timer = withoutRequestContext(() => setInterval(() => this.sweep(), tick));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const ctx = this.ctx;
    if (ctx.lifecycle !== 'running') return;
    const now = Date.now();
    ctx.router.sweep(now);
    const { idleTimeoutMs, healthCheckIntervalMs } = ctx.options;
    for (const slice of ctx.router.slices()) {
      for (const rec of [...slice.store.records]) {
        if (rec.state !== 'ready') continue;
        // An expired session stops being lent now, even while busy: under steady load a multiplexed
        // session is never idle, so "retire when idle" alone would keep it forever. It is closed when its
        // last lease returns, never under a call.
        if (now >= rec.expiresAt) {
          ctx.capacity.retire(rec, 'lifetime');
          continue;
        }
        if (rec.inFlight > 0) continue;
        if (idleTimeoutMs > 0 && now - rec.idleSince >= idleTimeoutMs && slice.store.live > slice.minSessions) {
          ctx.capacity.retire(rec, 'idle');
        } else if (healthCheckIntervalMs > 0 && now >= rec.nextProbeAt) {
          // Traffic proves liveness as well as a ping does: only ping sessions quiet for a whole interval.
          const dueAt = rec.lastActiveAt + healthCheckIntervalMs * (1 - Math.random() * PROBE_JITTER);
          if (now >= dueAt) this.probe(rec);
          else rec.nextProbeAt = dueAt;
        }
      }
    }
    ctx.capacity.ensureAll();
  }

  /** Pings an idle session while it is reserved, so no caller shares it with the probe. */
  probe(rec: SessionRecord): void {
    const ctx = this.ctx;
    const store = rec.slice.store;
    store.beginProbe(rec);
    ctx.metrics.healthCheckCount++;
    const { healthCheckIntervalMs, healthCheckTimeoutMs } = ctx.options;
    const probe = ctx.options.healthProbe;
    withoutRequestContext(() =>
      probe
        ? // The probe's lease is not a borrowed slot (the session is reserved): releasing it does nothing.
          withTimeout(probe(reservedLease(ctx, rec)), healthCheckTimeoutMs, 'health probe')
        : rec.session.request('ping', undefined, { timeoutMs: healthCheckTimeoutMs }),
    ).then(
      () => {
        if (!store.probed(rec)) return;
        const now = Date.now();
        rec.lastActiveAt = now;
        rec.nextProbeAt = now + healthCheckIntervalMs * (1 - Math.random() * PROBE_JITTER);
        ctx.borrower.dispatch(rec.slice);
        if (rec.inFlight === 0) ctx.capacity.offerIdle(rec); // another identity may be waiting for room
      },
      (error: unknown) => {
        if (rec.state !== 'probing') return;
        ctx.metrics.healthCheckFailures++;
        ctx.events.emit('healthCheckFailed', { pool: ctx.name, sessionId: rec.id, error });
        ctx.capacity.evict(rec, 'health', error);
      },
    );
  }
}

/** Rejects if `promise` has not settled within `ms` (the timer never outlives the race). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

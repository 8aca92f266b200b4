import type { DriverSession } from './driver';
import type { SessionEndReason } from './events';
import type { RetireReason, SessionRecord } from './session-record';
import { SlotIndex } from './session-record';

/**
 * Counts over every slice of one pool (the shared sessions and each identity partition): what
 * `maxSessions`, `maxWaiters` and the drain check. Kept in step by the stores and waiter queues; plain
 * fields, read on every acquire.
 */
export class PoolTotals {
  /** Sessions holding resources (ready, probing, retiring). */
  records = 0;
  creating = 0;
  retiring = 0;
  /** Leases out. */
  leased = 0;
  /** Callers queued for a slot. */
  waiting = 0;

  get live(): number {
    return this.records - this.retiring;
  }
}

/** What a store tells the rest of the pool. */
export interface SessionStoreHooks {
  /** A session left the store (`rec.state` is already `dead`): report it and close it. */
  removed(rec: SessionRecord, reason: SessionEndReason, error?: unknown): void;
}

/**
 * The sessions of one slice: records, the slot index and the counters. The only place that changes a
 * session's state; every end of a session (eviction, retirement, shutdown, a partition pushed out) goes
 * through {@link remove}.
 */
export class SessionStore {
  /** Every session that holds resources: ready, probing or retiring. */
  readonly records = new Set<SessionRecord>();
  readonly slots: SlotIndex;
  creating = 0;
  retiring = 0;
  leased = 0;

  constructor(
    maxConcurrentPerSession: number,
    private readonly totals: PoolTotals,
    private readonly hooks: SessionStoreHooks,
  ) {
    this.slots = new SlotIndex(maxConcurrentPerSession);
  }

  /** Sessions that count as live: not retiring. */
  get live(): number {
    return this.records.size - this.retiring;
  }

  creationStarted(): void {
    this.creating++;
    this.totals.creating++;
  }

  creationSettled(): void {
    this.creating--;
    this.totals.creating--;
  }

  /** A new session joins, ready to lend. */
  add(rec: SessionRecord): void {
    this.records.add(rec);
    this.totals.records++;
    this.slots.update(rec);
  }

  /** One more lease on `rec`. */
  claim(rec: SessionRecord): void {
    rec.inFlight++;
    rec.borrowCount++;
    this.leased++;
    this.totals.leased++;
    this.slots.update(rec);
  }

  /**
   * A lease on `rec` came back at `now()` (read only if the session is now idle: a clock read costs more
   * than the rest of a release). Returns the time it went idle, or 0 while it still has leases out.
   */
  unclaim(rec: SessionRecord, now: () => number): number {
    rec.inFlight--;
    this.leased--;
    this.totals.leased--;
    const idleAt = rec.inFlight === 0 ? (rec.idleSince = now()) : 0;
    if (rec.state === 'ready') this.slots.update(rec);
    return idleAt;
  }

  /** Reserves an idle session for a health probe: not lendable until {@link probed}. */
  beginProbe(rec: SessionRecord): void {
    rec.state = 'probing';
    this.slots.remove(rec);
  }

  /** The probe answered: lendable again. Returns false when the session ended meanwhile. */
  probed(rec: SessionRecord): boolean {
    if (rec.state !== 'probing') return false;
    rec.state = 'ready';
    this.slots.update(rec);
    return true;
  }

  /**
   * Stops lending a healthy session; it is removed now if idle, else when its last lease returns (never
   * under a call). Returns whether it was removed now.
   */
  retire(rec: SessionRecord, why: RetireReason): boolean {
    if (rec.state !== 'ready' && rec.state !== 'probing') return false;
    rec.endReason = why;
    this.slots.remove(rec);
    rec.state = 'retiring';
    this.retiring++;
    this.totals.retiring++;
    if (rec.inFlight > 0) return false;
    this.remove(rec, why);
    return true;
  }

  /**
   * Ends a session: never lent again, out of every count, reported and closed. Idempotent (a dead
   * session stays dead); a record the store never held (the warm-up hook's) is only marked dead.
   */
  remove(rec: SessionRecord, reason: SessionEndReason, error?: unknown): boolean {
    if (rec.state === 'dead') return false;
    if (rec.state === 'retiring') {
      this.retiring--;
      this.totals.retiring--;
    }
    rec.state = 'dead';
    this.slots.remove(rec);
    if (!this.records.delete(rec)) return false;
    this.totals.records--;
    this.hooks.removed(rec, reason, error);
    return true;
  }
}

/** Closes sessions in the background and remembers every close still running, so shutdown can wait for them. */
export class Closings {
  private readonly pending = new Set<Promise<void>>();

  /** Closes `ds` (its death no longer reported); a close that fails is ignored (the session is gone anyway). */
  close(ds: DriverSession, outsideCallers: <T>(fn: () => T) => T): void {
    ds.onDied = undefined;
    this.track(outsideCallers(() => ds.close()));
  }

  track(work: Promise<unknown>): void {
    const p = work.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Resolves when every close, including ones started while waiting, has settled. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

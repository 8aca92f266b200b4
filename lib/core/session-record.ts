import type { DriverSession } from './driver';
import { InFlightRequests } from './server-questions';
import type { PoolSlice } from './pool-slice';

/**
 * - `ready`: may be lent (if it has a free slot);
 * - `probing`: reserved by a health check, not lendable;
 * - `retiring`: lifetime/idle/resize retirement pending; closed when its last lease returns;
 * - `dead`: evicted or closed; never lent again.
 */
export type SessionState = 'ready' | 'probing' | 'retiring' | 'dead';

/** Why a healthy session is retired (closed once its last lease returns). */
export type RetireReason = 'lifetime' | 'idle' | 'resize' | 'rebalance';

let nextId = 1;

/** The pool's bookkeeping for one session. Plain fields: this is read on every acquire. */
export class SessionRecord {
  readonly id = nextId++;
  state: SessionState = 'ready';
  /** Leases currently held on this session. */
  inFlight = 0;
  /** Leases ever lent from it. */
  borrowCount = 0;
  /** Consecutive call timeouts; a run of them evicts the session (a hung server). */
  consecutiveTimeouts = 0;
  /** Last time the session proved alive: created, a call succeeded, a probe answered. */
  lastActiveAt: number;
  /** Last time its last lease came back (idle since). */
  idleSince: number;
  /** When the next health probe is due (jittered). */
  nextProbeAt = 0;
  /** Why a retirement was decided (reported when the session is finally closed). */
  endReason: RetireReason | undefined;
  /** Closed by shutdown (its pending calls then fail with PoolClosedError, not SessionLostError). */
  closedByShutdown = false;
  /** Index in the slot index's bucket; -1 when not in any. Owned by SlotIndex. */
  slotPos = -1;
  slotBucket = -1;

  constructor(
    /** The identity slice the session belongs to (the shared sessions are a slice too). */
    readonly slice: PoolSlice,
    readonly session: DriverSession,
    readonly createdAt: number,
    /** Retire after this instant (Infinity when lifetime recycling is off). */
    readonly expiresAt: number,
    /** The pool's requests in flight on this session (who may answer a server's question). */
    readonly requests: InFlightRequests = new InFlightRequests(),
  ) {
    this.lastActiveAt = createdAt;
    this.idleSince = createdAt;
  }
}

/**
 * Ready sessions that have a free slot, bucketed by the number of leases they hold, so that picking the
 * least-loaded session is O(maxConcurrentPerSession), not O(sessions). Each bucket is a stack: the most
 * recently returned session is lent first, so that the rest stay idle long enough to be shrunk.
 */
export class SlotIndex {
  private readonly buckets: SessionRecord[][];
  private free = 0;

  constructor(private readonly maxConcurrent: number) {
    this.buckets = Array.from({ length: maxConcurrent }, () => []);
  }

  /** Number of free slots over all indexed sessions. */
  get freeSlots(): number {
    return this.free;
  }

  /** Puts `rec` in the bucket matching its load, or out of the index if it is full or not ready. */
  update(rec: SessionRecord): void {
    const target = rec.state === 'ready' && rec.inFlight < this.maxConcurrent ? rec.inFlight : -1;
    if (target === rec.slotBucket) return;
    this.remove(rec);
    if (target < 0) return;
    const bucket = this.buckets[target]!;
    rec.slotBucket = target;
    rec.slotPos = bucket.length;
    bucket.push(rec);
    this.free += this.maxConcurrent - target;
  }

  remove(rec: SessionRecord): void {
    if (rec.slotBucket < 0) return;
    const bucket = this.buckets[rec.slotBucket]!;
    const last = bucket.pop()!;
    if (last !== rec) {
      bucket[rec.slotPos] = last;
      last.slotPos = rec.slotPos;
    }
    this.free -= this.maxConcurrent - rec.slotBucket;
    rec.slotBucket = -1;
    rec.slotPos = -1;
  }

  /** The least-loaded session with a free slot (most recently returned among equals), or undefined. */
  pick(): SessionRecord | undefined {
    for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      if (b.length > 0) return b[b.length - 1];
    }
    return undefined;
  }
}

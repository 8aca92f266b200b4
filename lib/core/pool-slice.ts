import type { AffinityMap } from './affinity';
import { AuthGate } from './auth-gate';
import type { ResolvedPoolOptions } from './options';
import type { ServerCatalog } from './server-catalog';
import type { SessionRecord } from './session-record';
import type { SessionStore } from './session-store';
import type { WaiterQueue } from './waiter-queue';

/**
 * The sessions of one identity within a pool: the shared sessions (no identity) or one identity
 * partition. A slice has its own sessions, queue, affinity, cached lists and credential state; everything
 * about the endpoint (circuit and backoff, rate limiter, retry budget, `maxSessions`, `maxWaiters`,
 * metrics) belongs to the pool and is shared by all its slices.
 */
export class PoolSlice {
  readonly auth = new AuthGate();
  /** Pushed out of the partition table: it creates nothing more and its sessions are closed. */
  closed = false;
  /** Pool-level calls routed here and not settled yet (they may hold nothing right now: admission, a retry). */
  users = 0;

  constructor(
    /** The partition key (an HMAC of the identity, see partitions.ts); undefined for the shared sessions. */
    readonly key: string | undefined,
    /** Headers every request of this slice's sessions carries, initialize included; undefined when shared. */
    readonly identity: Readonly<Record<string, string>> | undefined,
    private readonly options: Readonly<ResolvedPoolOptions>,
    readonly store: SessionStore,
    readonly waiters: WaiterQueue<SessionRecord>,
    readonly affinity: AffinityMap,
    readonly catalog: ServerCatalog,
  ) {}

  /** Sessions kept warm: `minSessions` for the shared sessions, none for a partition (made on demand). */
  get minSessions(): number {
    return this.key === undefined ? this.options.minSessions : 0;
  }

  /** This slice's own cap (the pool's `maxSessions` caps every slice together as well). */
  get maxSessions(): number {
    return this.key === undefined ? this.options.maxSessions : Math.min(this.options.maxSessionsPerPartition, this.options.maxSessions);
  }

  /** Calls running, leases out, callers waiting or sessions being created: a partition with none may be pushed out. */
  get busy(): boolean {
    return this.users > 0 || this.store.leased > 0 || !this.waiters.isEmpty || this.store.creating > 0;
  }
}

import { currentMcpHeaders, mergeHeaders } from '../context/request-context';
import { AffinityMap } from './affinity';
import { PoolExhaustedError, errorMessage } from './errors';
import { PartitionTable, identityHeadersOf, partitionKeyOf } from './partitions';
import type { PoolContext } from './pool-context';
import { PoolSlice } from './pool-slice';
import { ServerCatalog } from './server-catalog';
import { SessionStore } from './session-store';
import { WaiterQueue } from './waiter-queue';

/**
 * Which slice serves a request: the caller's identity (`partitionBy` over the context's and the call's
 * headers) picks a partition, created on first use; no identity, or no partitioning, is the shared
 * slice. A partition is a slice of this one pool, not a pool of its own: the endpoint's circuit, limiter,
 * retry budget, `maxSessions` and `maxWaiters` are shared.
 */
export class PartitionRouter {
  readonly shared: PoolSlice;
  private readonly table: PartitionTable<PoolSlice> | undefined;

  constructor(private readonly ctx: PoolContext) {
    this.shared = this.newSlice(undefined, undefined);
    this.table = ctx.options.partitionBy ? new PartitionTable(ctx.options.maxPartitions) : undefined;
  }

  get partitionCount(): number {
    return this.table?.size ?? 0;
  }

  /** Every slice: the shared one first, then the partitions (least recently used first). */
  slices(): PoolSlice[] {
    return this.table ? [this.shared, ...this.table.values()] : [this.shared];
  }

  /**
   * The slice for a request with `extra` headers on top of the caller's context. Throws PoolExhaustedError
   * when the identity is new and every partition is busy.
   */
  sliceFor(extra: Readonly<Record<string, string>> | undefined): PoolSlice {
    const by = this.ctx.options.partitionBy;
    if (!by || !this.table) return this.shared;
    const headers = extra ? mergeHeaders(currentMcpHeaders(), extra) : currentMcpHeaders();
    const key = partitionKeyOf(by, headers);
    if (key === undefined) return this.shared;
    // A pool that takes no work says so from the shared slice (takeNow says why); no partition is made.
    if (!this.ctx.accepting) return this.shared;
    const slice = this.table.get(
      key,
      () => this.newSlice(key, identityHeadersOf(by, headers)),
      (evicted) => this.close(evicted),
    );
    if (!slice) {
      throw new PoolExhaustedError(
        this.ctx.name,
        `all ${this.ctx.options.maxPartitions} identity partitions are busy; raise maxPartitions`,
        'queue-full',
        this.ctx.summary(),
      );
    }
    return slice;
  }

  /** Pushes out the partitions unused for `partitionIdleTimeoutMs`. */
  sweep(now: number): void {
    const idleMs = this.ctx.options.partitionIdleTimeoutMs;
    if (!this.table || idleMs <= 0) return;
    for (const idle of this.table.sweep(idleMs, now)) this.close(idle);
  }

  /** Empties the partition table (shutdown closes the sessions of every slice itself). */
  clear(): void {
    this.table?.clear();
  }

  /**
   * A partition pushed out of the table (it is idle: no lease, no waiter, no creation): its sessions are
   * closed now, outside the caller's context that pushed it out; its counters stay in the pool's metrics.
   */
  private close(slice: PoolSlice): void {
    slice.closed = true;
    for (const rec of [...slice.store.records]) slice.store.remove(rec, 'idle');
  }

  private newSlice(key: string | undefined, identity: Readonly<Record<string, string>> | undefined): PoolSlice {
    const ctx = this.ctx;
    const o = ctx.options;
    const store = new SessionStore(o.maxConcurrentPerSession, ctx.totals, {
      removed: (rec, reason, error) => ctx.capacity.sessionRemoved(rec, reason, error),
    });
    let slice: PoolSlice | undefined;
    const catalog = new ServerCatalog({
      poolName: ctx.name,
      ttlMs: o.toolCacheTtlMs,
      counters: ctx.metrics,
      walk: (method, walk) => ctx.retry.walkAsPool(slice!, method, walk),
      toolsChanged: (tools, previous) => {
        try {
          o.onToolsChanged?.(tools, previous);
        } catch (error) {
          ctx.log('warn', `onToolsChanged threw: ${errorMessage(error)}`);
        }
        ctx.events.emit('toolsChanged', { pool: ctx.name, tools, previous });
      },
    });
    slice = new PoolSlice(key, identity, o, store, new WaiterQueue(ctx.totals), new AffinityMap(o.maxAffinityKeys), catalog);
    return slice;
  }
}

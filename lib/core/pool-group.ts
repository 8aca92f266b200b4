import type { McpCallToolResult as CallToolResult, McpTool as Tool } from './mcp-types';
import {
  AcquireTimeoutError,
  McpPoolError,
  PoolClosedError,
  PoolExhaustedError,
  PoolUnavailableError,
  SessionCreateError,
  SessionLostError,
  errorMessage,
} from './errors';
import { ASKED_CALLER } from './call-pipeline';
import type { McpPool, McpPoolHealth, PoolCallOptions } from './mcp-pool';
import type { McpLease } from './lease';
import type { McpPoolMetricsSnapshot } from './metrics';

export type McpPoolGroupStrategy = 'roundRobin' | 'failover' | 'leastBusy';

export interface McpPoolGroupOptions {
  /** Name of the group (errors, health, Nest token). */
  name: string;
  /**
   * Pools serving the same tools (replicas of one server), in priority order for `failover`; or a function
   * returning them, resolved on first use (for pools registered elsewhere, as in Nest).
   */
  pools: readonly McpPool[] | (() => readonly McpPool[]);
  /** `failover` (default): the first healthy pool; `roundRobin`: rotate; `leastBusy`: fewest leases + waiters. */
  strategy?: McpPoolGroupStrategy;
}

/** Every pool of the group failed the call (or was unavailable); `errors` has each pool's error. */
export class McpPoolGroupError extends McpPoolError {
  constructor(
    groupName: string,
    readonly errors: ReadonlyArray<{ pool: string; error: unknown }>,
  ) {
    super(
      groupName,
      `no pool of the group could serve the call: ${errors.map((e) => `${e.pool}: ${errorMessage(e.error)}`).join('; ') || 'no pool is running'}`,
      { cause: errors[errors.length - 1]?.error },
    );
  }
}

/**
 * Several pools serving the same tools, used as one. A call goes to the pool the strategy picks; when it
 * fails in a way that proves it did not run there (the pool is unavailable, exhausted, or lost the session
 * before the call was sent), or the tool is safe to repeat, it is tried on the next pool. A pool whose
 * circuit is open is skipped. Anything else is the caller's answer.
 */
export class McpPoolGroup {
  readonly name: string;
  readonly strategy: McpPoolGroupStrategy;
  private next = 0;
  private resolved: readonly McpPool[] | undefined;
  private readonly source: () => readonly McpPool[];

  constructor(options: McpPoolGroupOptions) {
    this.name = options.name;
    this.strategy = options.strategy ?? 'failover';
    const pools = options.pools;
    if (typeof pools === 'function') this.source = pools;
    else {
      if (!pools?.length) throw new McpPoolError(options.name, 'a pool group needs at least one pool');
      this.resolved = [...pools];
      this.source = () => this.resolved!;
    }
  }

  /** The pools of the group, in priority order. */
  get pools(): readonly McpPool[] {
    if (!this.resolved) {
      const pools = [...this.source()];
      if (pools.length === 0) throw new McpPoolError(this.name, 'a pool group needs at least one pool');
      this.resolved = pools;
    }
    return this.resolved;
  }

  /** Starts every pool of the group. */
  async start(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.start()));
  }

  /** Shuts every pool of the group down. */
  async shutdown(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.shutdown()));
  }

  callTool(name: string, args?: Record<string, unknown>, opts?: PoolCallOptions): Promise<CallToolResult> {
    return this.route((p) => p.callTool(name, args, opts), (p) => p.isToolSafeToRepeat(name));
  }

  listTools(opts?: PoolCallOptions): Promise<Tool[]> {
    return this.route((p) => p.listTools(opts), () => true);
  }

  ping(opts?: PoolCallOptions): Promise<void> {
    return this.route((p) => p.ping(opts), () => true);
  }

  /**
   * Runs `fn` with a lease from the pool the strategy picks. Only the borrow fails over (fn may have side
   * effects, so it is never run twice).
   */
  async session<T>(fn: (lease: McpLease) => Promise<T> | T, opts?: PoolCallOptions): Promise<T> {
    const lease = await this.route((p) => p.acquire(opts), () => true);
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  /** Up if any pool is up (degraded when some are not), down if none can serve. Never throws. */
  async checkHealth(opts?: { timeoutMs?: number }): Promise<{ status: McpPoolHealth['status']; pools: McpPoolHealth[] }> {
    const pools = await Promise.all(this.pools.map((p) => p.checkHealth(opts)));
    const up = pools.filter((h) => h.status !== 'down').length;
    const status = up === 0 ? 'down' : up === pools.length && pools.every((h) => h.status === 'up') ? 'up' : 'degraded';
    return { status, pools };
  }

  /** Each pool's metrics. */
  snapshot(): McpPoolMetricsSnapshot[] {
    return this.pools.map((p) => p.metrics.snapshot());
  }

  /** The pools in the order this call tries them; pools with an open circuit or not running go last. */
  private order(): McpPool[] {
    let ordered: McpPool[];
    switch (this.strategy) {
      case 'roundRobin': {
        const start = this.next++ % this.pools.length;
        ordered = [...this.pools.slice(start), ...this.pools.slice(0, start)];
        break;
      }
      case 'leastBusy':
        ordered = [...this.pools].sort((a, b) => a.load / a.options.maxSessions - b.load / b.options.maxSessions);
        break;
      default:
        ordered = [...this.pools];
    }
    const usable = (p: McpPool) => (p.state === 'running' || p.state === 'starting') && p.circuitState !== 'open';
    return [...ordered.filter(usable), ...ordered.filter((p) => !usable(p) && p.state !== 'draining' && p.state !== 'closed')];
  }

  private async route<T>(call: (pool: McpPool) => Promise<T>, safeToRepeat: (pool: McpPool) => boolean): Promise<T> {
    const errors: Array<{ pool: string; error: unknown }> = [];
    for (const pool of this.order()) {
      try {
        return await call(pool);
      } catch (error) {
        errors.push({ pool: pool.name, error });
        if (!canFailOver(error, () => safeToRepeat(pool))) throw error;
      }
    }
    throw new McpPoolGroupError(this.name, errors);
  }
}

/** The call did not run on that pool (it could not get a session), or it may run twice. */
function canFailOver(error: unknown, safeToRepeat: () => boolean): boolean {
  // A call that asked its caller a question (elicitation, sampling) does not go again elsewhere either.
  if (typeof error === 'object' && error !== null && ASKED_CALLER.has(error)) return false;
  if (
    error instanceof PoolUnavailableError ||
    error instanceof AcquireTimeoutError ||
    error instanceof PoolExhaustedError ||
    error instanceof SessionCreateError
  )
    return true;
  // A call cut off by shutdown may have run, like one on a lost session: only a repeatable one moves on.
  if (error instanceof SessionLostError || error instanceof PoolClosedError) return !error.mayHaveRun || safeToRepeat();
  return false;
}

import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { McpPoolConfigError, McpPoolError } from '../core/errors';
import type { McpPool } from '../core/mcp-pool';
import type { McpPoolGroup } from '../core/pool-group';
import { DEFAULT_POOL_NAME } from '../core/options';
import { IDENTITY_HEADERS } from './forward-headers';
import { MCP_FORWARD_HEADERS } from './mcp-pool.constants';

/**
 * Every pool registered in this Nest application, by name. One instance per application (it lives in a
 * global module, not in static state), so two applications in one process never see each other's pools.
 *
 * It also runs the pools' lifecycle: all pools start (warm up) together in `onModuleInit`, before any
 * non-global module's `onModuleInit`; `beforeApplicationShutdown` puts them all into draining (new calls
 * are rejected, health reports down); `onApplicationShutdown` lets in-flight calls finish (up to each
 * pool's `drainTimeoutMs`) and closes every session and child process.
 */
@Injectable()
export class McpPoolRegistry implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly pools = new Map<string, McpPool>();
  private readonly groups = new Map<string, { group: McpPoolGroup; members: readonly string[] }>();
  private started = false;
  /** Identity headers that McpPoolModule.forwardHeaders sends to every pool. */
  private readonly forwardedIdentity: readonly string[];

  constructor(@Optional() @Inject(MCP_FORWARD_HEADERS) forwarded?: readonly string[]) {
    this.forwardedIdentity = (forwarded ?? []).filter((h) => IDENTITY_HEADERS.has(h));
  }

  /** The pool registered under `name`; throws an {@link McpPoolError} naming the registered pools if there is none. */
  get(name: string = DEFAULT_POOL_NAME): McpPool {
    const pool = this.pools.get(name);
    if (!pool) {
      const known = this.names();
      throw new McpPoolError(
        name,
        `no such pool is registered (registered: ${known.length ? known.join(', ') : 'none'}); ` +
          `register it with McpPoolModule.forRoot({ name: '${name}', ... })`,
      );
    }
    return pool;
  }

  /** Whether a pool is registered under `name`. */
  has(name: string = DEFAULT_POOL_NAME): boolean {
    return this.pools.has(name);
  }

  /** Names of the registered pools, in registration order. */
  names(): string[] {
    return [...this.pools.keys()];
  }

  /** The registered pools, in registration order. */
  all(): McpPool[] {
    return [...this.pools.values()];
  }

  /** The pool group registered under `name` (`McpPoolModule.forGroup`). */
  getGroup(name: string): McpPoolGroup {
    const entry = this.groups.get(name);
    if (!entry) throw new McpPoolError(name, `no such pool group is registered (registered: ${[...this.groups.keys()].join(', ') || 'none'})`);
    return entry.group;
  }

  /** Names of the registered pool groups. */
  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** @internal Called by `McpPoolModule.forGroup`'s provider. Members are checked when the application starts. */
  addGroup(group: McpPoolGroup, members: readonly string[]): void {
    if (this.groups.has(group.name)) {
      throw new McpPoolConfigError(group.name, [{ field: 'name', message: 'is registered as a pool group more than once' }]);
    }
    this.groups.set(group.name, { group, members });
  }

  [Symbol.iterator](): IterableIterator<McpPool> {
    return this.pools.values();
  }

  /**
   * @internal Called by each registration's pool provider. A second pool under one name is a
   * configuration error (each `forRoot`/`forRootAsync` call creates its own pool).
   */
  add(pool: McpPool): void {
    this.checkIdentityForwarding(pool);
    if (this.pools.has(pool.name)) {
      throw new McpPoolConfigError(pool.name, [
        {
          field: 'name',
          message:
            'is registered more than once (each McpPoolModule.forRoot/forRootAsync call creates a pool); give each registration a unique name, or import one registration from a shared module',
        },
      ]);
    }
    this.pools.set(pool.name, pool);
  }

  /**
   * A forwarded identity header would be sent on every session of an HTTP pool: only a pool that
   * partitions by it (each identity on sessions of its own) may receive it. A `partitionBy` function is
   * trusted to derive the identity from the forwarded headers.
   */
  private checkIdentityForwarding(pool: McpPool): void {
    if (this.forwardedIdentity.length === 0 || pool.options.transport === 'stdio') return;
    const by = pool.options.partitionBy;
    if (typeof by === 'function') return;
    const missing = this.forwardedIdentity.filter((h) => !by?.includes(h));
    if (missing.length === 0) return;
    throw new McpPoolConfigError(pool.name, [
      {
        field: 'partitionBy',
        message:
          `must include ${missing.map((h) => `'${h}'`).join(' and ')}, which McpPoolModule.forwardHeaders forwards: ` +
          `without a partition per identity, one user's ${missing.join('/')} would be sent on sessions shared with other users`,
      },
    ]);
  }

  /** @internal Whether the application has started the pools (a pool registered later, by a lazy-loaded module, starts at once). */
  get isStarted(): boolean {
    return this.started;
  }

  /** @internal Starts every pool together. If one fails (only with `failFast`), all pools are shut down and the error is rethrown. */
  async onModuleInit(): Promise<void> {
    for (const [name, { members }] of this.groups) {
      const unknown = members.filter((m) => !this.pools.has(m));
      if (unknown.length > 0) {
        throw new McpPoolConfigError(name, [
          { field: 'pools', message: `names pools that are not registered: ${unknown.join(', ')} (registered: ${this.names().join(', ') || 'none'})` },
        ]);
      }
    }
    this.started = true;
    const pools = this.all();
    const results = await Promise.allSettled(pools.map((pool) => pool.start()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // The application will not start; leave no session or child process behind.
      await Promise.allSettled(pools.map((pool) => pool.shutdown()));
      throw failed.reason;
    }
  }

  /**
   * @internal Health reports every pool down from here on, but calls keep working: Nest closes the HTTP
   * server after this hook, waiting for the requests in flight, and those may make more MCP calls.
   */
  beforeApplicationShutdown(): void {
    for (const pool of this.pools.values()) pool.markShuttingDown();
  }

  /** @internal The HTTP server is closed: stop taking calls, drain every pool (in parallel) and close them. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.all().map((pool) => pool.shutdown()));
  }
}

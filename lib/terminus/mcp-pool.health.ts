import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { errorMessage } from '../core/errors';
import type { McpPoolHealth } from '../core/mcp-pool';
import { DEFAULT_POOL_NAME } from '../core/options';
import { McpPoolRegistry } from '../nest/mcp-pool.registry';

/** Options of one health check. */
export interface McpPoolHealthOptions {
  /** Name of the pool to check. Default `'default'`. */
  pool?: string;
  /** Deadline of the check (a borrowed session's ping, or a session creation). Default: the pool's `healthCheckTimeoutMs`. */
  timeoutMs?: number;
}

/**
 * Terminus health indicator for MCP pools. Provide it next to `TerminusModule` and call it from a
 * `@HealthCheck()` route:
 *
 * ```ts
 * @Module({ imports: [TerminusModule], controllers: [HealthController], providers: [McpPoolHealthIndicator] })
 * // in the controller:
 * return this.health.check([
 *   () => this.mcp.isHealthy('github', { pool: 'github', timeoutMs: 1000 }),
 *   () => this.mcp.isHealthyAll(),            // or: every registered pool, keys 'mcp:<name>'
 * ]);
 * ```
 *
 * A pool is up when a live session answers a ping (busy sessions count as serving) or a new one can be
 * created in time; below `minSessions` it is still up, with `degraded: true` and the reason. It is down
 * — with the reason and the pool's numbers — when the endpoint cannot be reached, the circuit is open,
 * or the pool is draining or closed. The indicator never throws.
 */
@Injectable()
export class McpPoolHealthIndicator {
  constructor(
    @Inject(HealthIndicatorService) private readonly health: HealthIndicatorService,
    @Inject(McpPoolRegistry) private readonly registry: McpPoolRegistry,
  ) {}

  /** The health of one pool, under `key`. */
  async isHealthy<const Key extends string>(key: Key, options: McpPoolHealthOptions = {}): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    const name = options.pool ?? DEFAULT_POOL_NAME;
    try {
      if (!this.registry.has(name)) {
        return indicator.down({ pool: name, reason: `no MCP pool named "${name}" is registered (registered: ${this.registry.names().join(', ') || 'none'})` });
      }
      const { status, ...data } = await checkWithin(this.registry.get(name), options.timeoutMs);
      if (status === 'down') return indicator.down(data);
      return indicator.up<Record<string, unknown>>(status === 'degraded' ? { ...data, degraded: true } : data);
    } catch (error) {
      return indicator.down({ pool: name, reason: errorMessage(error) });
    }
  }

  /**
   * The health of a pool group (`McpPoolModule.forGroup`) under `key`: up when every member pool is up,
   * up with `degraded: true` when some are down (the group still serves through the others), down when
   * none can serve. Each member's report is included.
   */
  async isGroupHealthy<const Key extends string>(key: Key, options: { group: string; timeoutMs?: number }): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    try {
      const group = this.registry.getGroup(options.group);
      const { status, pools } = await group.checkHealth(options.timeoutMs === undefined ? undefined : { timeoutMs: options.timeoutMs });
      const data = { group: options.group, pools: pools.map(({ status: s, pool, reason }) => ({ pool, status: s, ...(reason ? { reason } : {}) })) };
      if (status === 'down') return indicator.down(data);
      return indicator.up<Record<string, unknown>>(status === 'degraded' ? { ...data, degraded: true } : data);
    } catch (error) {
      return indicator.down({ group: options.group, reason: errorMessage(error) });
    }
  }

  /**
   * The health of every registered pool, one key per pool: `<keyPrefix><name>` (default `mcp:github`,
   * `mcp:files`). The checks run in parallel.
   */
  async isHealthyAll(keyPrefix = 'mcp:', options: Omit<McpPoolHealthOptions, 'pool'> = {}): Promise<HealthIndicatorResult> {
    const results = await Promise.all(
      this.registry.names().map((pool) => this.isHealthy(`${keyPrefix}${pool}`, { ...options, pool })),
    );
    return Object.assign({}, ...results) as HealthIndicatorResult;
  }
}

/**
 * `pool.checkHealth()` never throws and is bounded by its timeout (borrow, then ping); this guard only
 * makes sure a health endpoint cannot hang whatever happens underneath.
 */
async function checkWithin(pool: { checkHealth(o?: { timeoutMs?: number }): Promise<McpPoolHealth>; options: { healthCheckTimeoutMs: number } }, timeoutMs: number | undefined): Promise<McpPoolHealth> {
  const limit = 2 * (timeoutMs ?? pool.options.healthCheckTimeoutMs) + 1000;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      pool.checkHealth(timeoutMs === undefined ? undefined : { timeoutMs }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the health check did not settle within ${limit} ms`)), limit);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

import { McpPool } from '../mcp-pool';
import { DEFAULT_POOL_NAME } from '../core/options';

/** Injection token of the options of one `McpPoolModule.forRoot`/`forRootAsync` registration (module-local). */
export const MCP_POOL_MODULE_OPTIONS = 'MCP_POOL_MODULE_OPTIONS';

/** Injection token of the header allow-list used by {@link McpHeadersInterceptor}. */
export const MCP_FORWARD_HEADERS = 'MCP_FORWARD_HEADERS';

/**
 * The injection token of the pool registered under `name`. The default pool (`'default'`) is injectable
 * by its class, `McpPool`; a named pool by the string `McpPool:<name>`.
 *
 * ```ts
 * constructor(@Inject(getMcpPoolToken('github')) private readonly github: McpPool) {}
 * moduleRef.get<McpPool>(getMcpPoolToken('github'), { strict: false });
 * ```
 */
export function getMcpPoolToken(name: string = DEFAULT_POOL_NAME): typeof McpPool | string {
  return name === DEFAULT_POOL_NAME ? McpPool : `McpPool:${name}`;
}

/** The injection token of the pool group registered under `name` (`McpPoolModule.forGroup`). */
export function getMcpPoolGroupToken(name: string): string {
  return `McpPoolGroup:${name}`;
}

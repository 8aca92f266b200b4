import { McpPool as PoolCore } from './core/mcp-pool';
import type { McpPoolOptions } from './core/options';
import { builtInDrivers } from './transports';

/**
 * A pool of warm MCP client sessions for one endpoint, with the built-in drivers: Streamable HTTP and stdio
 * (MCP SDK 1.x). The core (`lib/core`) knows no transport; this is where the package's entry points give
 * it the drivers. Pass `driver` in the options to use another.
 *
 * ```ts
 * const pool = new McpPool({ endpoint: 'http://127.0.0.1:3000/mcp', minSessions: 2, maxSessions: 10 });
 * await pool.start();
 * const result = await pool.callTool('search', { q: 'nest' });
 * await pool.session(async (lease) => { await lease.callTool('a'); await lease.callTool('b'); });
 * await pool.shutdown();
 * ```
 */
export class McpPool extends PoolCore {
  constructor(options: McpPoolOptions) {
    super(options, builtInDrivers);
  }
}

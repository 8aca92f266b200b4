// The sample's three pools, configured from the environment through ConfigService (see .env.example).
// Numbers arrive as strings ('10'): McpPoolModule converts them, and rejects bad values at boot.
import { ConfigService } from '@nestjs/config';
import { McpPoolModule, type McpPoolModuleOptions } from 'nestjs-mcp-pool';
import { DemoModule, DemoServers } from './demo/demo.module';

/** Names of the pools: `@InjectMcpPool(name)`, and the `:pool` of `POST /tools/:pool/:name`. */
export const HTTP_POOL = 'http';
export const STDIO_POOL = 'stdio';
export const MODERN_POOL = 'modern';

/** Pool "http": a server over Streamable HTTP, MCP_HTTP_URL or else the embedded demo server. */
export const HttpPoolModule = McpPoolModule.forRootAsync({
  name: HTTP_POOL,
  imports: [DemoModule],
  inject: [ConfigService, DemoServers],
  useFactory: async (config: ConfigService, demo: DemoServers): Promise<McpPoolModuleOptions> => ({
    endpoint: config.get<string>('MCP_HTTP_URL') || (await demo.httpUrl()),
    auth: config.get<string>('MCP_HTTP_TOKEN') || undefined,
    minSessions: config.get('MCP_HTTP_MIN_SESSIONS', 2),
    maxSessions: config.get('MCP_HTTP_MAX_SESSIONS', 10),
    maxConcurrentPerSession: config.get('MCP_HTTP_MAX_CONCURRENT_PER_SESSION', 1),
  }),
});

/** Pool "stdio": a server run as a child process per session, MCP_STDIO_COMMAND or else the embedded demo server. */
export const StdioPoolModule = McpPoolModule.forRootAsync({
  name: STDIO_POOL,
  imports: [DemoModule],
  inject: [ConfigService, DemoServers],
  useFactory: (config: ConfigService, demo: DemoServers): McpPoolModuleOptions => {
    const commandLine = config.get<string>('MCP_STDIO_COMMAND');
    return {
      transport: 'stdio',
      // `endpoint` may hold a whole command line for stdio; otherwise `command` and `args`.
      ...(commandLine ? { endpoint: commandLine } : demo.stdioCommand()),
      minSessions: config.get('MCP_STDIO_MIN_SESSIONS', 1),
      maxSessions: config.get('MCP_STDIO_MAX_SESSIONS', 4),
    };
  },
});

/**
 * Pool "modern": a server of the 2026-07-28 era (stateless), MCP_MODERN_URL or else the embedded modern-only
 * demo server. MCP_MODERN_PROTOCOL: 'auto' (default) or 'modern'; 'legacy' shows the error a 2025-era pool
 * gets from such a server (GET /health reports it).
 */
export const ModernPoolModule = McpPoolModule.forRootAsync({
  name: MODERN_POOL,
  imports: [DemoModule],
  inject: [ConfigService, DemoServers],
  useFactory: async (config: ConfigService, demo: DemoServers): Promise<McpPoolModuleOptions> => ({
    endpoint: config.get<string>('MCP_MODERN_URL') || (await demo.modernUrl()),
    protocol: config.get('MCP_MODERN_PROTOCOL', 'auto'),
    minSessions: config.get('MCP_MODERN_MIN_SESSIONS', 1),
    maxSessions: config.get('MCP_MODERN_MAX_SESSIONS', 4),
    // A stateless server keeps nothing per client: one client may carry many calls at once.
    maxConcurrentPerSession: config.get('MCP_MODERN_MAX_CONCURRENT_PER_SESSION', 16),
  }),
});

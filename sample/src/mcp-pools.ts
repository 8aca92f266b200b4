// The sample's two pools, configured from the environment through ConfigService (see .env.example).
// Numbers arrive as strings ('10'): McpPoolModule converts them, and rejects bad values at boot.
import { ConfigService } from '@nestjs/config';
import { McpPoolModule, type McpPoolModuleOptions } from 'nestjs-mcp-pool';
import { DemoModule, DemoServers } from './demo/demo.module';

/** Names of the pools: `@InjectMcpPool(name)`, and the `:pool` of `POST /tools/:pool/:name`. */
export const HTTP_POOL = 'http';
export const STDIO_POOL = 'stdio';

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

import type { DriverConfig, SessionDriver, SessionDriverFactory } from '../core/driver';
import { McpPoolConfigError } from '../core/errors';
import { StdioDriver } from './stdio.driver';
import { StreamableHttpDriver } from './streamable-http.driver';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';

export { StdioDriver, type StdioDriverOptions } from './stdio.driver';
export { StreamableHttpDriver, type StreamableHttpDriverOptions } from './streamable-http.driver';

/**
 * The built-in drivers, by transport: Streamable HTTP and stdio on the MCP SDK 1.x client. The entry points
 * hand this to the core; the core itself knows no transport.
 */
export const builtInDrivers: SessionDriverFactory = (config: DriverConfig): SessionDriver => {
  if (config.transport === 'stdio') {
    return new StdioDriver({ command: config.command!, args: config.args, env: config.env, cwd: config.cwd, stderr: config.stderr, log: config.log });
  }
  if (config.transport === 'streamable_http') {
    return new StreamableHttpDriver({
      endpoint: config.endpoint!,
      headers: config.headers,
      auth: config.bearerToken,
      authProvider: config.authProvider as OAuthClientProvider | undefined,
      httpClient: config.httpClient,
      maxConnections: config.maxConnections,
    });
  }
  throw new McpPoolConfigError(config.poolName, [{ field: 'transport', message: `has no built-in driver for ${JSON.stringify(config.transport)}` }]);
};

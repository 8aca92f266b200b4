import type { DriverConfig, SessionDriver, SessionDriverFactory } from '../core/driver';
import { McpPoolConfigError } from '../core/errors';
import { StdioDriver } from './stdio.driver';
import { StreamableHttpDriver } from './streamable-http.driver';
import { V2HttpDriver } from './v2/v2-http.driver';
import { V2StdioDriver } from './v2/v2-stdio.driver';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';

export { StdioDriver, type StdioDriverOptions } from './stdio.driver';
export { StreamableHttpDriver, type StreamableHttpDriverOptions } from './streamable-http.driver';
export { V2HttpDriver, type V2HttpDriverOptions } from './v2/v2-http.driver';
export { V2StdioDriver, type V2StdioDriverOptions } from './v2/v2-stdio.driver';
export { RepeatedAuthChallengeError } from './reauth-guard';

/**
 * The built-in drivers, by transport and protocol: Streamable HTTP and stdio on the MCP SDK 1.x client for
 * `protocol: 'legacy'`, and on the v2 client (`@modelcontextprotocol/client`, loaded only then) for `'auto'`
 * and `'modern'`. The entry points hand this to the core; the core itself knows no transport.
 */
export const builtInDrivers: SessionDriverFactory = (config: DriverConfig): SessionDriver => {
  if (config.protocol !== 'legacy' && config.transport === 'streamable_http') {
    return new V2HttpDriver({
      poolName: config.poolName,
      endpoint: config.endpoint!,
      protocol: config.protocol,
      headers: config.headers,
      maxConnections: config.maxConnections,
      auth: config.bearerToken,
      authProvider: config.authProvider as object | undefined,
    });
  }
  if (config.protocol !== 'legacy' && config.transport === 'stdio') {
    return new V2StdioDriver({
      poolName: config.poolName,
      protocol: config.protocol,
      command: config.command!,
      args: config.args,
      env: config.env,
      cwd: config.cwd,
      stderr: config.stderr,
      log: config.log,
    });
  }
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

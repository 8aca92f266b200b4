import type { SessionDriver } from '../core/driver';
import type { ResolvedPoolOptions } from '../core/options';
import { StdioDriver } from './stdio.driver';
import { StreamableHttpDriver } from './streamable-http.driver';
import { cachedTokenSource } from './token-cache';

export { StdioDriver, type StdioDriverOptions } from './stdio.driver';
export { StreamableHttpDriver, type StreamableHttpDriverOptions } from './streamable-http.driver';

/** The driver for a pool's validated options (or the one the user supplied). */
export function createDriver(options: ResolvedPoolOptions): SessionDriver {
  if (options.driver) return options.driver;
  if (options.transport === 'stdio') {
    return new StdioDriver({
      command: options.command!,
      args: options.args,
      env: options.env,
      cwd: options.cwd,
      stderr: options.stderr,
    });
  }
  const auth = options.auth;
  return new StreamableHttpDriver({
    endpoint: options.endpoint!,
    headers: options.headers,
    auth: typeof auth === 'function' ? cachedTokenSource(auth, options.authCacheTtlMs) : auth,
    authProvider: options.authProvider,
  });
}

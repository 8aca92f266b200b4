import { Logger } from '@nestjs/common';
import type { McpPoolLogger } from '../core/logger';

/**
 * The logger a pool registered with McpPoolModule gets when its options name none: Nest's `Logger`
 * (context `McpPool`) for the pool's `log`, `warn` and `error` lines. The core's `debug` lines (one per
 * session created) are left out: Nest's default logger prints every level, `verbose` included, so handing
 * them on at any level would print a line per session in every application. To see them, pass
 * `logger: new Logger('McpPool')`, whose `debug` the pool then uses.
 */
export function defaultPoolLogger(): McpPoolLogger {
  const nest = new Logger('McpPool');
  // Only the message: a second argument would read as Nest's context, and the pool gives none.
  return {
    log: (message) => nest.log(message),
    warn: (message) => nest.warn(message),
    error: (message) => nest.error(message),
  };
}

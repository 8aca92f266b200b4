import type { McpPoolLogger } from '../core/logger';
import type { McpPoolOptions } from '../core/options';

/**
 * Numeric and boolean options may also be given as strings (`'10'`, `'true'`), as they arrive from
 * environment variables; they are converted when the module starts.
 */
type FromEnvironment<T> = {
  [K in keyof T]: [NonNullable<T[K]>] extends [number] ? T[K] | string : [NonNullable<T[K]>] extends [boolean] ? T[K] | string : T[K];
};

/**
 * Options of one pool registered with `McpPoolModule.forRoot`/`forRootAsync`: the core's
 * {@link McpPoolOptions} (see the options table in the README), except that
 * - the name is given to the registration (`forRoot({ name })`, `forRootAsync({ name })`), not here;
 * - numbers and booleans may be strings (environment variables);
 * - `logger` defaults to a Nest `Logger` (context `McpPool`) for `log`, `warn` and `error` (not the per-session
 *   `debug` lines: pass `new Logger('McpPool')` for those); `false` keeps the pool quiet.
 */
export type McpPoolModuleOptions = Omit<FromEnvironment<McpPoolOptions>, 'name' | 'logger'> & {
  logger?: McpPoolLogger | false;
};

/** Options of the registration itself (static even with `forRootAsync`). */
export interface McpPoolModuleExtras {
  /** The pool's name: its injection token (`@InjectMcpPool(name)`) and the name in errors and metrics. Default `'default'`. */
  name?: string;
  /** Makes the pool injectable in every module without importing this registration again. Default false. */
  isGlobal?: boolean;
}

/** A class that provides a pool's options, for `forRootAsync({ useClass })` / `({ useExisting })`. */
export interface McpPoolOptionsFactory {
  createMcpPoolOptions(): McpPoolModuleOptions | Promise<McpPoolModuleOptions>;
}

/**
 * The pool's logging port. Nest's `Logger` fits it as is. The pool is quiet by default (no logger = no
 * output) and never passes a token or a forwarded header value to it.
 */
export interface McpPoolLogger {
  debug?(message: string, ...meta: unknown[]): void;
  log(message: string, ...meta: unknown[]): void;
  warn(message: string, ...meta: unknown[]): void;
  error(message: string, ...meta: unknown[]): void;
}

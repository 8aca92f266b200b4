import {
  CallTimeoutError,
  McpAuthError,
  McpPoolError,
  McpRequestError,
  McpServerError,
  PoolClosedError,
  PoolExhaustedError,
  PoolNotReadyError,
  PoolUnavailableError,
  RateLimitedError,
  SessionCreateError,
  SessionLostError,
  TenantLimitError,
} from '../core/errors';
import { McpPoolGroupError } from '../core/pool-group';

/** The HTTP answer for an MCP error (see {@link toMcpHttpError}). */
export interface McpHttpError {
  /** The HTTP status. */
  status: number;
  /** The JSON body: Nest's error shape, plus `mayHaveRun` when the session was lost under the call. */
  body: { statusCode: number; error: string; message: string; mayHaveRun?: boolean };
  /** Seconds for a `Retry-After` header, when the error says when to retry. */
  retryAfterSeconds?: number;
}

/** JSON-RPC "Invalid params": the arguments of the call were rejected. */
const INVALID_PARAMS = -32602;

/**
 * A JSON-RPC error answered by the MCP server, raised by the SDK itself: the pool hands callers a
 * McpServerError instead, but a call made on `lease.client` directly throws the SDK's `McpError`.
 * Recognised by its name and shape, not `instanceof`: the SDK ships a CommonJS and an ESM build, and in an
 * ESM app the class the app imports is not the one the pool loads (docs/packaging.md).
 */
function isSdkMcpError(error: unknown): error is Error & { code: number } {
  return error instanceof Error && error.name === 'McpError' && typeof (error as { code?: unknown }).code === 'number';
}

/** The SDK's `UnauthorizedError` (an `authProvider` needs the user to authorize), which the pool passes on as is. By class name, for the same reason. */
function isSdkUnauthorized(error: unknown): boolean {
  return error instanceof Error && error.constructor.name === 'UnauthorizedError';
}

/** The status for one error; undefined for errors that are not MCP errors, or are the application's own bugs. */
function statusOf(error: unknown): number | undefined {
  if (isSdkMcpError(error)) return error.code === INVALID_PARAMS ? 400 : 502;
  if (isSdkUnauthorized(error)) return 401;
  if (!(error instanceof McpPoolError)) return undefined;
  if (error instanceof McpPoolGroupError) {
    // The group tried its pools in order; the last error is the answer (none: no pool is running).
    const last = error.errors[error.errors.length - 1];
    return last ? statusOf(last.error) : 503;
  }
  if (error instanceof CallTimeoutError) return 504;
  if (error instanceof McpServerError) return error.code === INVALID_PARAMS ? 400 : 502;
  if (error instanceof McpRequestError) return 502;
  if (error instanceof McpAuthError) return error.status === 403 ? 403 : 401;
  if (error instanceof RateLimitedError || error instanceof TenantLimitError) return 429;
  if (error instanceof SessionLostError) return 502;
  if (
    error instanceof PoolExhaustedError ||
    error instanceof PoolUnavailableError ||
    error instanceof PoolClosedError ||
    error instanceof SessionCreateError ||
    error instanceof PoolNotReadyError
  )
    return 503;
  // McpPoolConfigError, OperationAbortedError, an unknown pool name: the application's to fix.
  return undefined;
}

/** When the caller may retry, in ms, if the error says: the circuit's next probe, or the server's Retry-After. */
function retryAfterMsOf(error: unknown): number | undefined {
  if (error instanceof PoolUnavailableError) return error.retryInMs;
  if (error instanceof RateLimitedError) return error.retryAfterMs;
  if (error instanceof McpPoolGroupError) {
    const known = error.errors.map((e) => retryAfterMsOf(e.error)).filter((ms): ms is number => ms !== undefined);
    return known.length > 0 ? Math.min(...known) : undefined;
  }
  return undefined;
}

/**
 * The HTTP answer that tells an API client what happened to the MCP call behind its request, or undefined
 * if `error` is not an MCP error (leave it to your other handling). {@link McpExceptionFilter} sends it; use
 * this function to build your own filter or body.
 *
 * | Error | Status |
 * | --- | --- |
 * | `CallTimeoutError` | 504 |
 * | `PoolUnavailableError` (circuit open, `Retry-After`: the next probe), `PoolExhaustedError`, `AcquireTimeoutError`, `PoolClosedError`, `SessionCreateError`, `PoolNotReadyError` | 503 |
 * | `SessionLostError` (`mayHaveRun` in the body); `McpServerError` (a JSON-RPC error from the server), `McpRequestError` (an HTTP error status) | 502 |
 * | `RateLimitedError` (`Retry-After`: the server's, if it sent one), `TenantLimitError` | 429 |
 * | `McpAuthError` (the server's 401 or 403), the SDK's `UnauthorizedError` | 401 / 403 |
 * | `McpServerError` with code -32602 (invalid params) | 400 |
 * | `McpPoolGroupError` | the status of the last pool's error |
 *
 * A `Retry-After` is set where the error says when to retry. The message is the error's own: the pool's
 * messages name the pool and say what to do, and never contain tokens or header values.
 */
export function toMcpHttpError(error: unknown): McpHttpError | undefined {
  const status = statusOf(error);
  if (status === undefined) return undefined;
  const { name, message } = error as Error;
  const body: McpHttpError['body'] = { statusCode: status, error: isSdkUnauthorized(error) ? 'UnauthorizedError' : name, message };
  if (error instanceof SessionLostError) body.mayHaveRun = error.mayHaveRun;
  const retryAfterMs = retryAfterMsOf(error);
  return retryAfterMs === undefined ? { status, body } : { status, body, retryAfterSeconds: Math.ceil(retryAfterMs / 1000) };
}

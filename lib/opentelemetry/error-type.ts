import {
  CallTimeoutError,
  McpAuthError,
  McpPoolError,
  McpRequestError,
  McpServerError,
  OperationAbortedError,
  RateLimitedError,
  SessionLostError,
} from '../core/errors';
import { isErrorLike, networkCode } from '../util/error-shape';

/** How a failed MCP request is described on its span and metric. */
export interface McpErrorDescription {
  /** `error.type`: low-cardinality class of the failure. */
  type: string;
  /** `rpc.response.status_code`: the JSON-RPC error code the server answered with, if any. */
  rpcCode?: string;
  /** Span status description. */
  message?: string;
}

/**
 * Classifies the error of a failed MCP request, from the library's typed errors (the pool hands the
 * instrumentation those, whichever driver and SDK line made the request):
 * - a JSON-RPC error from the server ({@link McpServerError}): its code (`-32601`), also as
 *   `rpc.response.status_code`;
 * - the request's deadline: `timeout`; the caller's abort: `cancelled`;
 * - refused credentials: the HTTP status (`401`, `403`); the server's rate limit: `429`; another HTTP
 *   error: its status;
 * - a lost session: the network error code under it (`ECONNREFUSED`), else `session_lost`;
 * - anything else: the error's class name, or `_OTHER`.
 */
export function describeMcpError(error: unknown): McpErrorDescription {
  const message = isErrorLike(error) ? truncate(error.message) : undefined;
  if (error instanceof McpServerError) return { type: String(error.code), rpcCode: String(error.code), message };
  if (error instanceof CallTimeoutError) return { type: 'timeout', message };
  if (error instanceof OperationAbortedError) return { type: 'cancelled', message };
  if (error instanceof McpAuthError) return { type: String(error.status ?? 401), message };
  if (error instanceof RateLimitedError) return { type: '429', message };
  if (error instanceof McpRequestError) return { type: error.status ? String(error.status) : 'request_error', message };
  if (error instanceof SessionLostError) return { type: networkCode(error.cause) ?? 'session_lost', message };
  if (error instanceof McpPoolError) return { type: error.name, message };
  if (!isErrorLike(error)) return { type: '_OTHER' };
  return { type: error.name && error.name !== 'Error' ? error.name : '_OTHER', message };
}

/** Whether a result is a tool result that reports a failure (`isError: true`). */
export function isToolError(result: unknown): boolean {
  return typeof result === 'object' && result !== null && (result as { isError?: unknown }).isError === true;
}

function truncate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { isErrorLike, networkCode } from '../transports/error-classification';

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
 * Classifies an error thrown by an MCP request (as the SDK raised it, before the pool translates it):
 * - a JSON-RPC error from the server: its code (`-32601`), also as `rpc.response.status_code`;
 * - the request's deadline: `timeout`;
 * - an HTTP error status: the status (`404`, `401`);
 * - cancellation: `cancelled`; a network failure: its code (`ECONNREFUSED`);
 * - anything else: the error's class name, or `_OTHER`.
 */
export function describeMcpError(error: unknown): McpErrorDescription {
  const message = isErrorLike(error) ? truncate(error.message) : undefined;
  if (error instanceof McpError) {
    if (error.code === ErrorCode.RequestTimeout) return { type: 'timeout', message };
    return { type: String(error.code), rpcCode: String(error.code), message };
  }
  if (error instanceof UnauthorizedError) return { type: '401', message };
  if (error instanceof StreamableHTTPError) return { type: typeof error.code === 'number' ? String(error.code) : 'http_error', message };
  if (!isErrorLike(error)) return { type: '_OTHER' };
  if (error.name === 'AbortError') return { type: 'cancelled', message };
  if (error.name === 'TypeError' && /fetch failed/i.test(error.message)) return { type: networkCode(error) ?? 'network_error', message };
  return { type: error.name && error.name !== 'Error' ? error.name : '_OTHER', message };
}

/** Whether a result is a tool result that reports a failure (`isError: true`). */
export function isToolError(result: unknown): boolean {
  return typeof result === 'object' && result !== null && (result as { isError?: unknown }).isError === true;
}

function truncate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

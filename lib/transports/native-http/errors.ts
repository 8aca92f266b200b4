import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/** Network error codes that prove a request never reached the server (no byte of it was sent). */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * An HTTP request of the native transport failed below HTTP: refused, reset, closed mid-response. `neverSent`
 * is true only when the request certainly did not reach the server (the connection was never made).
 */
export class HttpRequestError extends Error {
  readonly code: string | undefined;
  readonly neverSent: boolean;
  constructor(method: string, cause: unknown) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    const text = cause instanceof Error ? cause.message : String(cause);
    super(`${method} to the MCP endpoint failed: ${text}`, { cause });
    this.name = 'HttpRequestError';
    this.code = typeof code === 'string' ? code : undefined;
    this.neverSent = this.code !== undefined && NEVER_SENT.has(this.code);
  }
}

/** Message of the error given to a request whose response can no longer arrive. */
export const LOST_RESPONSE_MESSAGE = 'Connection closed: the response stream ended before the response arrived';

/** The error a request fails with when its response stream ended without its response (and cannot resume). */
export function lostResponseError(): McpError {
  return new McpError(ErrorCode.ConnectionClosed, LOST_RESPONSE_MESSAGE);
}

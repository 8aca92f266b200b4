import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ErrorVerdict } from '../core/driver';
import { isErrorLike } from '../util/error-shape';

export { isErrorLike, networkCode } from '../util/error-shape';

/**
 * What an error means for the session, for errors every transport shares:
 * - the SDK's own "Connection closed" (it rejects every pending request so when the transport closes);
 * - "Not connected" (the transport is gone; the request was never sent).
 * Returns undefined when the error is not one of these.
 */
export function classifyCommon(error: unknown): ErrorVerdict | undefined {
  if (error instanceof McpError) {
    // The SDK's own deadline (it sent notifications/cancelled).
    if (error.code === ErrorCode.RequestTimeout) return { kind: 'timeout' };
    // -32000 is also the first code of JSON-RPC's "server error" range, which servers use for their
    // own errors: only the SDK's locally raised "Connection closed" means the transport died.
    if (error.code === ErrorCode.ConnectionClosed && /^MCP error -32000: Connection closed/.test(error.message))
      return { kind: 'session-fatal', mayHaveRun: true };
    // The SDK prefixes the server's message with "MCP error <code>: ".
    return { kind: 'call', rpc: { code: error.code, message: error.message.replace(/^MCP error -?\d+: /, ''), data: error.data } };
  }
  if (isErrorLike(error) && error.message === 'Not connected') return { kind: 'session-fatal', mayHaveRun: false };
  return undefined;
}


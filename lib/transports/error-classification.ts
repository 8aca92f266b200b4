import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ErrorVerdict } from '../core/driver';

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
    return { kind: 'call' };
  }
  if (isErrorLike(error) && error.message === 'Not connected') return { kind: 'session-fatal', mayHaveRun: false };
  return undefined;
}

/** The errno-like code of a Node/undici network error (`cause.code`), if any. */
export function networkCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** An Error from any realm (instanceof Error fails across vm contexts, e.g. Node internals under Jest). */
export function isErrorLike(e: unknown): e is Error {
  return typeof e === 'object' && e !== null && typeof (e as Error).message === 'string' && typeof (e as Error).name === 'string';
}

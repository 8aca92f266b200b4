import type { DriverSession, ErrorVerdict } from '../../core/driver';
import { UNSUPPORTED_PROTOCOL_VERSION } from '../../core/errors';
import { isErrorLike, networkCode } from '../../util/error-shape';
import type { V2ClientModule } from './load-client';

/** Network error codes that prove the request never reached the server. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * What an error of the v2 client means for the pool. The v2 errors are brand-checked (`instanceof` works
 * across copies of the SDK); the codes are the SDK's `SdkErrorCode` strings and JSON-RPC numbers.
 *
 * - -32022 (as a JSON-RPC error, or in the body of an HTTP 400), or era negotiation that found no common
 *   version: `incompatible`, naming the versions the server supports.
 * - A 404 on a session that has an `Mcp-Session-Id` (2025 era): the session expired. On a 2026-07-28
 *   session there is no session to expire: a 404 is an unknown method (-32601), a call error.
 */
export function classifyV2Error(mod: V2ClientModule, error: unknown, session: DriverSession | undefined): ErrorVerdict {
  const { SdkError, SdkErrorCode, SdkHttpError, ProtocolError, UnauthorizedError } = mod;
  // The OAuth provider now waits for the user to authorize (the app runs the flow, then finishAuth).
  if (error instanceof UnauthorizedError) return { kind: 'auth', status: 401, authorizationRequired: true };
  if (error instanceof ProtocolError) {
    if (error.code === UNSUPPORTED_PROTOCOL_VERSION) return incompatible(error.data, error.message);
    return { kind: 'call', rpc: { code: error.code, message: error.message.replace(/^MCP error -?\d+: /, ''), data: error.data } };
  }
  if (error instanceof SdkHttpError) {
    const status = error.status;
    if (status === 401 || status === 403) return { kind: 'auth', status };
    if (status === 429) return { kind: 'rate-limited', retryAfterMs: retryAfterOf(error.data) };
    const rpc = jsonRpcErrorIn(error.message) ?? jsonRpcErrorIn((error.data as { body?: unknown } | undefined)?.body);
    if (rpc?.code === UNSUPPORTED_PROTOCOL_VERSION) return incompatible(rpc.data, rpc.message);
    if (session?.remoteId && (status === 404 || (status === 400 && /session/i.test(error.message)))) return { kind: 'session-fatal', mayHaveRun: false };
    if (rpc) return { kind: 'call', rpc, status };
    return { kind: 'call', status };
  }
  if (error instanceof SdkError) {
    switch (error.code) {
      case SdkErrorCode.RequestTimeout:
        return { kind: 'timeout' };
      case SdkErrorCode.ConnectionClosed:
        return { kind: 'session-fatal', mayHaveRun: true };
      case SdkErrorCode.NotConnected:
        return { kind: 'session-fatal', mayHaveRun: false };
      case SdkErrorCode.EraNegotiationFailed: {
        // A verdict only when the server's answer shares no version with ours: pin mode found no 2026-07-28
        // in it (a 2025-era server, most likely), or a prior verdict has no modern overlap.
        if (/did not offer|overlap|mutual protocol version/i.test(error.message)) {
          const pinned = /pinned protocol version (\d{4}-\d{2}-\d{2})/.exec(error.message)?.[1];
          return { ...incompatible(error.data, ''), ...(pinned ? { requestedVersion: pinned } : {}) } as ErrorVerdict;
        }
        // A 5xx to the probe is the server's failure; anything else (the network, a connection closed under
        // the probe, a stdio child that exited on it) is an outage of this attempt, not a verdict.
        if (/\b5\d\d\b/.test(error.message)) return { kind: 'call' };
        return { kind: 'session-fatal', mayHaveRun: false };
      }
      case SdkErrorCode.ClientHttpAuthentication:
        return { kind: 'auth', status: 401 };
      case SdkErrorCode.ClientHttpForbidden:
        return { kind: 'auth', status: 403 };
      default:
        return { kind: 'call' };
    }
  }
  if (isFetchFailure(error)) {
    const code = networkCode(error);
    return { kind: 'session-fatal', mayHaveRun: !(code && NEVER_SENT.has(code)) };
  }
  if (isErrorLike(error) && error.name === 'AbortError') return { kind: 'timeout' };
  return { kind: 'call' };
}

/** Checked by name, not instanceof: undici's errors come from Node's own realm (Jest runs in a vm). */
function isFetchFailure(error: unknown): boolean {
  return isErrorLike(error) && error.name === 'TypeError' && /fetch failed/i.test(error.message);
}

function incompatible(data: unknown, message: string): ErrorVerdict {
  const d = (data ?? {}) as { supported?: unknown; supportedVersions?: unknown; requested?: unknown };
  const list = Array.isArray(d.supported) ? d.supported : Array.isArray(d.supportedVersions) ? d.supportedVersions : versionsIn(message);
  return {
    kind: 'incompatible',
    supportedVersions: list.filter((v): v is string => typeof v === 'string'),
    requestedVersion: typeof d.requested === 'string' ? d.requested : undefined,
  };
}

/** Protocol versions (YYYY-MM-DD) named in a message, when the structured data is missing. */
function versionsIn(message: string): string[] {
  return [...new Set(message.match(/\b\d{4}-\d{2}-\d{2}\b/g) ?? [])];
}

/** A JSON-RPC error object inside an HTTP error's text (the SDK puts the response body in the message). */
function jsonRpcErrorIn(text: unknown): { code: number; message: string; data?: unknown } | undefined {
  if (typeof text !== 'string') return undefined;
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  try {
    const body = JSON.parse(text.slice(start)) as { error?: { code?: unknown; message?: unknown; data?: unknown } };
    const e = body?.error;
    if (e && typeof e.code === 'number') return { code: e.code, message: String(e.message ?? ''), data: e.data };
  } catch {
    // not JSON
  }
  return undefined;
}

function retryAfterOf(data: unknown): number | undefined {
  const v = (data as { retryAfter?: unknown; headers?: { get?: (n: string) => string | null } } | undefined)?.retryAfter;
  return typeof v === 'number' ? v * 1000 : undefined;
}

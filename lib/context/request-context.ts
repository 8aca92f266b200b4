import { AsyncLocalStorage } from 'node:async_hooks';
import type { McpCreateMessageParams, McpCreateMessageResult, McpElicitParams, McpElicitResult } from '../core/mcp-types';

/**
 * The per-request context: what the current caller wants added to its own MCP requests. It lives in
 * AsyncLocalStorage, so it follows the caller's async chain. The SDK sends each request inside the
 * caller's async context, which is what lets concurrent calls on one shared session each carry their own
 * headers.
 */
export interface McpRequestContext {
  /** Headers added to the HTTP requests made on this caller's behalf (lower-case names). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Answers to server-to-client requests (elicitation, sampling) that arrive while this caller's request
   * runs. The SDK reads them from the response stream of the caller's own request, inside its async context.
   */
  readonly handlers?: Readonly<McpCallHandlers>;
}

/** Per-call answers to the server's questions; see McpPoolOptions.onElicitation / onSampling. */
export interface McpCallHandlers {
  onElicitation?: (params: McpElicitParams, extra: ServerRequestExtra) => McpElicitResult | Promise<McpElicitResult>;
  onSampling?: (params: McpCreateMessageParams, extra: ServerRequestExtra) => McpCreateMessageResult | Promise<McpCreateMessageResult>;
}

/** What a handler learns about the server's request (its cancellation signal, ids). */
export interface ServerRequestExtra {
  signal: AbortSignal;
  requestId: string | number;
  sessionId?: string;
}

const storage = new AsyncLocalStorage<McpRequestContext>();

/**
 * Runs `fn` with `headers` added to every MCP call made inside it (on any pool). Nested calls merge,
 * the inner value winning. Headers are validated when a call sends them.
 */
export function runWithMcpHeaders<T>(headers: Record<string, string> | undefined, fn: () => T): T {
  if (!headers || Object.keys(headers).length === 0) return fn();
  const outer = storage.getStore();
  return storage.run({ ...outer, headers: mergeHeaders(outer?.headers, headers) }, fn);
}

/** Runs `fn` with `handlers` answering the server's questions to the requests made inside it. */
export function runWithMcpHandlers<T>(handlers: McpCallHandlers, fn: () => T): T {
  const outer = storage.getStore();
  return storage.run({ ...outer, handlers: { ...outer?.handlers, ...handlers } }, fn);
}

/** The handlers of the current context, or undefined. */
export function currentMcpHandlers(): Readonly<McpCallHandlers> | undefined {
  return storage.getStore()?.handlers;
}

/** The headers of the current context, or undefined. */
export function currentMcpHeaders(): Readonly<Record<string, string>> | undefined {
  return storage.getStore()?.headers;
}

/** Merges header maps with lower-cased names; later maps win. */
export function mergeHeaders(
  ...maps: Array<Readonly<Record<string, string>> | undefined>
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of maps) if (m) for (const k of Object.keys(m)) out[k.toLowerCase()] = m[k]!;
  return out;
}

/**
 * Runs `fn` outside any request context. Session creation and health probes use it: a session is shared,
 * so its `initialize` must not carry the headers (or identity) of whichever caller happened to trigger it.
 */
export function withoutRequestContext<T>(fn: () => T): T {
  return storage.exit(fn);
}

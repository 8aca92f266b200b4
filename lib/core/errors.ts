/** Marks the library's errors, so that they are recognised across copies of the package (see isMcpPoolError). */
const BRAND = Symbol.for('nestjs-mcp-pool.error');

/**
 * Every error the pool raises is an {@link McpPoolError}: it carries the pool's name, and `cause` is
 * set to the underlying error where there is one (an SDK error, a network error). Messages say what to
 * do, never contain secrets. No SDK error reaches a caller as is: an ESM app loads another copy of the SDK
 * than this (CommonJS) package does, so `instanceof` on an SDK class would fail there; on these classes it
 * works in both module formats.
 */
export class McpPoolError extends Error {
  /** @internal */
  readonly [BRAND] = true;

  constructor(
    /** The name of the pool that raised the error. */
    readonly poolName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`mcp pool "${poolName}": ${message}`, options);
    this.name = new.target.name;
  }
}

/**
 * Whether `error` is one of this library's errors, even from another copy of the package (two versions
 * installed side by side): by a global symbol, not by class identity. Narrow further with `error.name`.
 */
export function isMcpPoolError(error: unknown): error is McpPoolError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * Whether `error` says the server wants (other) credentials: an {@link McpAuthError} (401/403, or an OAuth
 * provider awaiting the user's authorization), from any copy of the package.
 */
export function isUnauthorized(error: unknown): boolean {
  return isMcpPoolError(error) && (error.name === 'McpAuthError' || error.name === 'McpAuthorizationRequiredError');
}

/** An option is missing or invalid. `field` names it; `issues` lists every bad field at once. */
export class McpPoolConfigError extends McpPoolError {
  constructor(
    poolName: string,
    readonly issues: ReadonlyArray<{ field: string; message: string }>,
  ) {
    super(poolName, issues.map((i) => `${i.field} ${i.message}`).join('; '));
  }
  /** The first bad field. */
  get field(): string {
    return this.issues[0]?.field ?? '';
  }
}

/** Snapshot of the pool's numbers, put into timeout messages so that an operator sees why. */
export interface PoolStateSummary {
  total: number;
  idle: number;
  inFlight: number;
  waiting: number;
  creating: number;
  circuit: string;
}

export function describeState(s: PoolStateSummary): string {
  return `total=${s.total} idle=${s.idle} inFlight=${s.inFlight} waiting=${s.waiting} creating=${s.creating} circuit=${s.circuit}`;
}

/**
 * No session slot could be had: the waiter queue is full (`reason: 'queue-full'`) or the acquire deadline
 * passed (`reason: 'timeout'`, see {@link AcquireTimeoutError}).
 */
export class PoolExhaustedError extends McpPoolError {
  constructor(
    poolName: string,
    message: string,
    readonly reason: 'queue-full' | 'timeout',
    readonly state: PoolStateSummary,
    options?: { cause?: unknown },
  ) {
    super(poolName, message, options);
  }
}

/** The acquire deadline (`acquireTimeoutMs`, creation included) passed before a slot was free. */
export class AcquireTimeoutError extends PoolExhaustedError {
  constructor(poolName: string, timeoutMs: number, state: PoolStateSummary, cause?: unknown) {
    super(
      poolName,
      `no session slot within ${timeoutMs} ms (${describeState(state)}); raise maxSessions or acquireTimeoutMs` +
        (cause ? `; last session creation failed: ${errorMessage(cause)}` : ''),
      'timeout',
      state,
      cause ? { cause } : undefined,
    );
  }
}

/**
 * The pool is draining or closed: no new work is accepted. `mayHaveRun` is true only for a call that was
 * already on the wire when shutdown closed its session (it may have run); a refused call never ran.
 */
export class PoolClosedError extends McpPoolError {
  constructor(
    poolName: string,
    state: 'draining' | 'closed' | 'created',
    cause?: unknown,
    readonly mayHaveRun = false,
  ) {
    super(
      poolName,
      state === 'created' ? 'the pool has not been started; call start() first' : `the pool is ${state}; no new calls are accepted`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/** The circuit breaker is open: the endpoint failed repeatedly; `cause` is the last creation error. */
export class PoolUnavailableError extends McpPoolError {
  /** Milliseconds until the circuit lets its next probe creation through (a `Retry-After`). */
  readonly retryInMs: number;
  constructor(poolName: string, retryInMs: number, cause: unknown) {
    super(
      poolName,
      `the MCP endpoint is unavailable (circuit open after repeated session creation failures; next probe in ${Math.max(0, Math.round(retryInMs))} ms): ${errorMessage(cause)}`,
      { cause },
    );
    this.retryInMs = Math.max(0, Math.round(retryInMs));
  }
}

/** A new session could not be created (connect, initialize or the warm-up hook failed). */
export class SessionCreateError extends McpPoolError {
  constructor(poolName: string, cause: unknown) {
    super(poolName, `could not create an MCP session: ${cause === undefined ? 'no session came up and no creation error was seen' : errorMessage(cause)}`, { cause });
  }
}

/**
 * The session died under a call (transport closed, child exited, session expired on the server).
 * `mayHaveRun` says whether the server may have executed the call: when false, it certainly did not.
 */
export class SessionLostError extends McpPoolError {
  constructor(
    poolName: string,
    readonly method: string,
    readonly mayHaveRun: boolean,
    cause: unknown,
  ) {
    super(
      poolName,
      `the MCP session was lost during ${method} (${mayHaveRun ? 'the call may have run on the server' : 'the call did not run'}): ${errorMessage(cause)}`,
      { cause },
    );
  }
}

/** A call exceeded its `timeoutMs`; the request was cancelled on the server. */
export class CallTimeoutError extends McpPoolError {
  constructor(
    poolName: string,
    readonly method: string,
    readonly timeoutMs: number,
    cause?: unknown,
  ) {
    super(poolName, `${method} timed out after ${timeoutMs} ms and was cancelled; raise timeoutMs if the server is slow`, {
      cause,
    });
  }
}

/** The caller's AbortSignal fired while waiting for a slot or during a call. */
export class OperationAbortedError extends McpPoolError {
  constructor(poolName: string, what: string, reason: unknown) {
    super(poolName, `${what} was aborted by the caller's signal`, { cause: reason });
  }
}

/** The caller's tenant already holds `maxConcurrentPerTenant` leases. Rejected at once, never queued. */
export class TenantLimitError extends McpPoolError {
  constructor(poolName: string, limit: number) {
    super(poolName, `this tenant already has ${limit} calls in flight (tenantLimit.maxConcurrentPerTenant); retry later or raise the limit`);
  }
}

/** The server kept answering 429 (Too Many Requests), even after the pause it asked for. */
export class RateLimitedError extends McpPoolError {
  /**
   * `retryAfterMs`: the pause the server asked for (its Retry-After), if it said; or, for the pool's own
   * limiter, how long the call would have had to wait.
   */
  constructor(poolName: string, cause: unknown, readonly retryAfterMs?: number, message?: string) {
    super(poolName, message ?? 'the MCP server is rate limiting this client (HTTP 429); lower rateLimit.requestsPerSecond', { cause });
  }
}

/** waitReady() gave up: the pool did not reach minSessions in time. */
export class PoolNotReadyError extends McpPoolError {
  constructor(poolName: string, timeoutMs: number, live: number, min: number, cause?: unknown) {
    super(poolName, `not ready within ${timeoutMs} ms: ${live} of ${min} minimum sessions are up`, cause ? { cause } : undefined);
  }
}

/** The server refused our credentials (HTTP 401/403, or the SDK's UnauthorizedError). Not retried. */
export class McpAuthError extends McpPoolError {
  constructor(poolName: string, readonly status: number | undefined, cause: unknown, message?: string) {
    super(
      poolName,
      message ?? `the MCP server rejected the credentials${status ? ` (HTTP ${status})` : ''}; check the pool's auth option or complete authorization`,
      { cause },
    );
  }
}

/**
 * The MCP server answered the request with a JSON-RPC error (unknown tool or method, invalid params, its
 * own failure). The session stays healthy. `code` and `data` are the server's; `cause` is the SDK's error.
 */
export class McpServerError extends McpPoolError {
  constructor(
    poolName: string,
    readonly method: string,
    /** The JSON-RPC error code (-32601 method not found, -32602 invalid params, …). */
    readonly code: number,
    /** The JSON-RPC error's `data`, if the server sent any. */
    readonly data: unknown,
    serverMessage: string,
    cause: unknown,
  ) {
    super(poolName, `${method} failed on the server (JSON-RPC ${code}): ${serverMessage}`, { cause });
  }
}

/**
 * A request failed in a way that is neither a JSON-RPC answer nor a lost session (an HTTP error status
 * from the endpoint, an unexpected error of the client library). `status` is the HTTP status, if any.
 */
export class McpRequestError extends McpPoolError {
  constructor(
    poolName: string,
    readonly method: string,
    readonly status: number | undefined,
    cause: unknown,
  ) {
    super(poolName, `${method} failed${status ? ` (HTTP ${status})` : ''}: ${errorMessage(cause)}`, { cause });
  }
}

/**
 * The `authProvider` needs the user to authorize (the SDK's `UnauthorizedError` is the `cause`): run your
 * authorization flow, then `pool.finishAuth(code)`. Until then every caller gets this error at once.
 */
export class McpAuthorizationRequiredError extends McpAuthError {
  constructor(poolName: string, cause: unknown) {
    super(poolName, 401, cause, 'the MCP server requires authorization: send the user to the authorization URL your authProvider was given, then call finishAuth(code)');
  }
}

/**
 * The MCP server and this pool share no protocol version: the server answered -32022 (unsupported protocol
 * version), or era negotiation found no version both speak. A configuration error (`field` is `protocol`),
 * not an outage: the pool does not retry, back off or open its circuit; `start()` rejects with it under
 * `failFast`, and every caller gets it at once otherwise. `supportedVersions` lists what the server says it
 * speaks; `requestedVersion` what this pool offered.
 */
export class McpProtocolVersionError extends McpPoolConfigError {
  constructor(
    poolName: string,
    readonly supportedVersions: readonly string[],
    readonly requestedVersion: string | undefined,
    readonly protocol: string,
    cause: unknown,
  ) {
    super(poolName, [
      {
        field: 'protocol',
        message:
          `is ${JSON.stringify(protocol)}, but the MCP server does not speak ${requestedVersion ? `protocol version ${requestedVersion}` : 'a protocol version this pool offers'}` +
          ` (${supportedVersions.length ? `it supports ${supportedVersions.join(', ')}` : 'it named no version it supports; a 2025-era server does not answer server/discover'}); ` +
          (protocol === 'legacy'
            ? "set protocol: 'auto' (or 'modern') and install the v2 client: npm install @modelcontextprotocol/client"
            : "set protocol: 'auto' (or 'legacy' for a 2025-era server)"),
      },
    ]);
    (this as { cause?: unknown }).cause = cause;
  }
}

/**
 * The server refused the request because its headers do not match its body (JSON-RPC -32020, protocol
 * 2026-07-28: `Mcp-Method`, `Mcp-Name` or a mirrored `Mcp-Param-*` header disagrees with the JSON-RPC
 * message). Usually a proxy that rewrites headers, or a per-request header that shadows a protocol one.
 */
export class McpHeaderMismatchError extends McpServerError {}

/**
 * The server needs a client capability this pool did not declare (JSON-RPC -32021, protocol 2026-07-28).
 * `requiredCapabilities` is what the server said is missing: declare it with the pool's `capabilities`
 * option, or give the handler (`onElicitation`, `onSampling`, `listRoots`) that declares it.
 */
export class McpMissingCapabilityError extends McpServerError {
  get requiredCapabilities(): Record<string, unknown> {
    const data = this.data as { requiredCapabilities?: Record<string, unknown> } | undefined;
    return data?.requiredCapabilities ?? {};
  }
}

/** JSON-RPC codes of the 2026-07-28 revision that have a class of their own. */
export const HEADER_MISMATCH = -32020;
export const MISSING_CLIENT_CAPABILITY = -32021;
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;

/** The typed error of a JSON-RPC error answer: a subclass for the codes that have one, else McpServerError. */
export function serverErrorFor(
  poolName: string,
  method: string,
  rpc: { code: number; message: string; data?: unknown },
  cause: unknown,
): McpServerError {
  const Type = rpc.code === HEADER_MISMATCH ? McpHeaderMismatchError : rpc.code === MISSING_CLIENT_CAPABILITY ? McpMissingCapabilityError : McpServerError;
  return new Type(poolName, method, rpc.code, rpc.data, rpc.message, cause);
}

/** Best-effort message of an unknown thrown value (never includes headers or tokens: we never put them in errors). */
export function errorMessage(e: unknown): string {
  if (typeof e === 'object' && e !== null && typeof (e as Error).message === 'string') {
    const cause = (e as { cause?: unknown }).cause;
    const code = cause && typeof cause === 'object' && 'code' in cause ? ` (${String((cause as { code: unknown }).code)})` : '';
    return `${(e as Error).message}${code}`;
  }
  return String(e);
}

import type {
  McpClientCapabilities,
  McpMethod,
  McpParams,
  McpProgress,
  McpResult,
  McpServerCapabilities,
  McpServerQuestionMethod,
  McpServerQuestions,
} from './mcp-types';

/**
 * The protocol-neutral contract between the core and a driver.
 *
 * The core describes the client it wants ({@link McpClientSpec}: identity, capabilities, how to answer the
 * server's questions, what to do on `list_changed`); the driver builds whatever SDK client its protocol line
 * needs, installs the handlers, connects, and hands back a {@link DriverSession}: a few operations and a
 * death callback. The core never sees an SDK object, a session id format or a handshake.
 */
export interface SessionDriver {
  /** Short name for logs and metrics (`'streamable_http'`, `'stdio'`). */
  readonly kind: string;
  /** Whether per-request headers can reach the wire (HTTP: yes; stdio: there is no request to carry them). */
  readonly supportsHeaders: boolean;
  /**
   * Connects one session with the client `ctx.client` describes. Must reject (and leave nothing behind: no
   * socket, no child) when `ctx.signal` aborts or connecting fails.
   */
  create(ctx: CreateSessionContext): Promise<DriverSession>;
  /** Says what an error thrown by a request on `session` (undefined: while creating it) means. */
  classify(error: unknown, session: DriverSession | undefined): ErrorVerdict;
  /**
   * Completes an OAuth authorization code flow (drivers with an auth provider only). `iss`: the issuer the
   * authorization response named (RFC 9207), for a client that checks it.
   */
  finishAuth?(authorizationCode: string, iss?: string): Promise<void>;
  /** Releases what the driver holds across sessions (connection pools); called once at pool shutdown. */
  close?(): Promise<void>;
}

export interface CreateSessionContext {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly client: McpClientSpec;
  /**
   * Headers every request of this session carries, `initialize` included: the identity of the partition
   * the session belongs to (undefined for shared sessions). They win over the static headers, the bearer
   * token and any caller's headers, and go to the MCP endpoint only. Drivers without HTTP requests
   * (stdio) ignore them: there, a partition is a child process of its own.
   */
  readonly identity?: Readonly<Record<string, string>>;
}

/** Builds the driver of a pool (the entry points register the built-in ones; a user may pass their own). */
export type SessionDriverFactory = (config: DriverConfig) => SessionDriver;

/**
 * What a driver factory is told about the endpoint: validated, defaults filled in. Plain data, so a driver
 * depends on this file only.
 */
export interface DriverConfig {
  readonly poolName: string;
  readonly transport: string;
  /**
   * Which MCP protocol era to speak: `'legacy'` (2025-11-25, `initialize` and sessions), `'modern'`
   * (2026-07-28, stateless) or `'auto'` (the driver finds out, once per endpoint and identity).
   */
  readonly protocol: McpProtocolOption;
  /** HTTP: the MCP endpoint. */
  readonly endpoint?: URL;
  /**
   * HTTP: the most connections a driver that owns its connections may hold for requests: the pool's
   * `maxConnections`, or when that is 0, what the pool can use at once (`maxSessions` × (`maxConcurrentPerSession`
   * + 1): every session's requests in flight, plus a probe or a close each). Long-lived streams are apart.
   */
  readonly maxConnections: number;
  /** HTTP: static headers on every request to the endpoint. */
  readonly headers: Readonly<Record<string, string>>;
  /** HTTP: the current bearer token (already cached by the core when it came from a provider). */
  readonly bearerToken?: () => string | Promise<string>;
  /** HTTP: an OAuth client provider, in the shape the driver's SDK expects (opaque to the core). */
  readonly authProvider?: unknown;
  /** HTTP: which client speaks the protocol (`'native'`: the driver's own on undici; `'sdk'`: the SDK's). */
  readonly httpClient?: 'native' | 'sdk';
  /** stdio: the command, its arguments, environment and working directory. */
  readonly command?: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** stdio: where the child's stderr goes (`'pipe'`: to `log`, line by line). */
  readonly stderr: 'inherit' | 'ignore' | 'pipe';
  /** Where a driver reports what it sees (never secrets). */
  readonly log: (level: 'debug' | 'log' | 'warn' | 'error', message: string) => void;
}

/**
 * The client a session must present, as the core wants it. The driver builds its SDK client from this and
 * routes every server-to-client request to {@link answer}, which decides whose handler answers.
 */
export interface McpClientSpec {
  readonly clientInfo: { name: string; version: string };
  readonly capabilities: McpClientCapabilities;
  /** Which questions the core can answer (a handler is installed only for these). */
  readonly answers: ReadonlySet<McpServerQuestionMethod>;
  /**
   * Answers a server-to-client request. `origin` is the {@link DriverRequestOptions} of the pool's request
   * in whose response the question arrived, when the driver can tell (HTTP SSE of a POST); undefined when
   * it cannot (stdio's shared pipe, the HTTP GET stream). Rejects with an error carrying a JSON-RPC `code`
   * when nobody may answer.
   */
  answer<Q extends McpServerQuestionMethod>(
    method: Q,
    params: McpServerQuestions[Q]['params'],
    extra: ServerQuestionExtra,
    origin: DriverRequestOptions | undefined,
  ): Promise<McpServerQuestions[Q]['result']>;
  /** The server said a list changed (a `list_changed` notification). */
  listChanged(list: 'tools' | 'prompts' | 'resources'): void;
  /** The user's hook on the driver's own client object (the SDK `Client` for the built-in drivers). */
  readonly configureClient?: (client: unknown) => void;
}

/** What a handler learns about the server's question. */
export interface ServerQuestionExtra {
  readonly signal: AbortSignal;
  readonly requestId: string | number;
  readonly sessionId?: string;
}

/** Per-request options the core gives a driver. The object's identity names the request (see `origin`). */
export interface DriverRequestOptions {
  /** Deadline of the request; the driver cancels it (and tells the server) when it passes. */
  readonly timeoutMs: number;
  /** Cancels the request. A fresh signal per request: drivers may add listeners they never remove. */
  readonly signal?: AbortSignal;
  /** Headers added to this request only (lower-case names, already validated; HTTP drivers). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly onprogress?: (progress: McpProgress) => void;
  readonly resetTimeoutOnProgress?: boolean;
  /**
   * A question that arrives in this request's response must be handed back with this object as `origin`
   * (its caller brought handlers). When false and there are no headers, a driver may skip the bookkeeping
   * that names the request: the core then routes as if the origin were unknown, which gives the same answer.
   */
  readonly identifiesCaller?: boolean;
  /**
   * Set when the pool limits its request rate: a driver that sends this one request as several wire requests
   * (the 2026-07-28 era's input_required retries) awaits it before each after the first, so every request
   * the server sees takes its token. It rejects (typed) when the caller's deadline or abort ends the wait.
   */
  readonly beforeResend?: () => Promise<void>;
}

/** The protocol option of a pool (see {@link DriverConfig.protocol}). */
export type McpProtocolOption = 'legacy' | 'auto' | 'modern';

/** The protocol era a session speaks: 2025-11-25 (`'legacy'`) or 2026-07-28 and later (`'modern'`). */
export type McpProtocolEra = 'legacy' | 'modern';

/** One connected session, as handed out by a driver. */
export interface DriverSession {
  /** The server's id for this session (HTTP `Mcp-Session-Id`), if the protocol has one. */
  readonly remoteId: string | undefined;
  /** The protocol era the session negotiated (undefined: the driver does not say; the SDK 1.x drivers speak `'legacy'`). */
  readonly era?: McpProtocolEra;
  /** Process id of the session's child process (stdio). */
  readonly pid?: number;
  /** What the server declared it can do. */
  readonly serverCapabilities: McpServerCapabilities | undefined;
  /** The driver's own client object (the SDK `Client` for the built-in drivers), for what the pool does not wrap. */
  readonly client: unknown;
  /** One MCP request. Rejects with the driver's own error; {@link SessionDriver.classify} says what it means. */
  request<M extends McpMethod>(method: M, params: McpParams<M>, options: DriverRequestOptions): Promise<McpResult<M>>;
  /**
   * Set by the core; the driver calls it once when the session dies by itself (child exited, transport
   * closed by the peer). Not called for a close the core asked for.
   */
  onDied?: (reason: Error) => void;
  /** Closes the session and everything it holds; never rejects, settles within a bounded time. */
  close(): Promise<void>;
}

/**
 * - `call`: the request failed but the session is healthy: the server answered with a JSON-RPC error
 *   (`rpc`), or the endpoint with an HTTP error (`status`).
 * - `timeout`: the request's deadline passed (the driver cancelled it).
 * - `session-fatal`: the session is gone; `mayHaveRun` is false only when the request certainly did not
 *   run (never sent, or rejected as an unknown session).
 * - `auth`: the server refused the credentials (401/403). Not retried, not counted by the circuit.
 *   `authorizationRequired`: an OAuth provider now waits for the user to authorize (the error reaches the
 *   caller as is, so the app can run the flow).
 * - `rate-limited`: the server answered 429; `retryAfterMs` if it said so.
 * - `incompatible`: the server and this client share no protocol version (the server answered -32022, or era
 *   negotiation found no common version). A configuration error, not an outage: no backoff loop, no circuit.
 *   `supportedVersions`: what the server said it speaks (empty when it did not say).
 */
export type ErrorVerdict =
  | {
      kind: 'call';
      /** The server's JSON-RPC error, when it answered with one. */
      rpc?: { code: number; message: string; data?: unknown };
      /** The HTTP status of a failed request, when the failure was one. */
      status?: number;
    }
  | { kind: 'timeout' }
  | { kind: 'session-fatal'; mayHaveRun: boolean }
  | { kind: 'auth'; status?: number; authorizationRequired?: boolean }
  | { kind: 'rate-limited'; retryAfterMs?: number }
  | { kind: 'incompatible'; supportedVersions: readonly string[]; requestedVersion?: string };

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';

/**
 * The contract between the core and a transport. A driver turns the pool's configuration into a
 * connected MCP {@link Client} and knows how that transport dies and how it is closed. The core never
 * assumes a session id or a handshake: a session is whatever the driver hands out.
 */
export interface SessionDriver {
  /** Short name for logs and metrics (`'streamable_http'`, `'stdio'`). */
  readonly kind: string;
  /**
   * Connects one session. `newClient()` builds the `Client` with the pool's capabilities and handlers
   * already installed; the driver must connect exactly that client. Must reject (and leave nothing
   * behind: no socket, no child) when `signal` aborts or connecting fails.
   */
  create(ctx: CreateSessionContext): Promise<DriverSession>;
  /** Says what an error thrown by a request on `session` (undefined: while creating it) means. */
  classify(error: unknown, session: DriverSession | undefined): ErrorVerdict;
  /** Completes an OAuth authorization code flow (transports with an auth provider only). */
  finishAuth?(authorizationCode: string): Promise<void>;
}

export interface CreateSessionContext {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  newClient(): Client;
}

/** One connected session, as handed out by a driver. */
export interface DriverSession {
  readonly client: Client;
  /** The server's id for this session (HTTP `Mcp-Session-Id`), if the transport has one. */
  readonly remoteId: string | undefined;
  /** Process id of the session's child process (stdio). */
  readonly pid?: number;
  /**
   * Set by the core; the driver calls it once when the session dies by itself (child exited, transport
   * closed by the peer). Not called for a close the core asked for.
   */
  onDied?: (reason: Error) => void;
  /** Closes the session and everything it holds; never rejects, settles within a bounded time. */
  close(): Promise<void>;
}

/**
 * - `call`: the server answered with an error; the session is healthy.
 * - `session-fatal`: the session is gone; `mayHaveRun` is false only when the request certainly did
 *   not run (never sent, or rejected as an unknown session).
 * - `auth`: the server refused the credentials (401/403). Not retried, not counted by the circuit.
 * - `rate-limited`: the server answered 429; `retryAfterMs` if it said so.
 */
export type ErrorVerdict =
  | { kind: 'call' }
  | { kind: 'session-fatal'; mayHaveRun: boolean }
  | { kind: 'auth'; status?: number }
  | { kind: 'rate-limited'; retryAfterMs?: number };

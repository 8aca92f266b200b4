import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth as runOAuth, extractWWWAuthenticateParams, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CreateSessionContext, DriverSession, ErrorVerdict, SessionDriver } from '../core/driver';
import { currentMcpHeaders, withoutRequestContext } from '../context/request-context';
import { PROTOCOL_HEADERS } from '../util/headers';
import { classifyCommon, isErrorLike, networkCode } from './error-classification';
import { LostResponseWatch } from './lost-response-watch';
import { linkedSignalFetch } from './linked-fetch';
import { SdkSession, buildSdkClient, currentOrigin, outsideOrigin } from './sdk-client';
import type { Dispatcher } from 'undici';
import { HttpRequestError } from './native-http/errors';
import { NativeStreamableHttpTransport, type NativeHttpEndpoint, type ResponseHeaders } from './native-http/streamable-http.transport';
import { loadUndici } from './native-http/undici-loader';
import { isEndpoint, retryAfterMs } from './endpoint-url';
import { ReauthGuard, RepeatedAuthChallengeError, type ReauthSession } from './reauth-guard';

export interface StreamableHttpDriverOptions {
  endpoint: URL;
  /** Static headers on every request (already validated). */
  headers?: Readonly<Record<string, string>>;
  /** Bearer token or provider of it, resolved per request. */
  auth?: string | (() => string | Promise<string>);
  /** An SDK OAuth provider, handed to the transport as is. */
  authProvider?: OAuthClientProvider;
  /** Deadline of the DELETE that ends a session on close. Default 2000. */
  terminateTimeoutMs?: number;
  /** The fetch to call underneath (default: global fetch). With `httpClient: 'native'`, only OAuth requests use it. */
  fetch?: FetchLike;
  /**
   * `'native'` (default): the library's transport on undici, over keep-alive connections this driver owns.
   * `'sdk'`: the SDK's `StreamableHTTPClientTransport` on `fetch`.
   */
  httpClient?: 'native' | 'sdk';
  /**
   * `'native'` only: most connections open to the endpoint at once for requests (POST, DELETE); 0 = no bound
   * beyond the requests the pool has in flight. Each session's standalone GET stream holds a connection of
   * its own, outside this bound.
   */
  maxConnections?: number;
}

/** Where the guard's error lived before both HTTP drivers shared it (and where tests and apps import it). */
export { RepeatedAuthChallengeError };

/** Network error codes that prove the request never reached the server. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Streamable HTTP sessions. Each session is one SDK `Client` on one transport (one `Mcp-Session-Id`):
 * - `httpClient: 'native'` (default): {@link NativeStreamableHttpTransport} over the keep-alive undici pools
 *   this driver owns ({@link NativeEndpoint}), which builds each request's headers in its async context;
 * - `httpClient: 'sdk'`: the SDK's `StreamableHTTPClientTransport`, given our own `fetch`, which adds the
 *   headers of the current request context (AsyncLocalStorage) to that one HTTP request.
 * Either way per-request headers reach the wire on a shared, warm session, and only the MCP endpoint's.
 */
export class StreamableHttpDriver implements SessionDriver {
  readonly kind = 'streamable_http';
  readonly supportsHeaders = true;
  private readonly fetch: FetchLike;
  private retryAfter = { at: 0, ms: 0 };
  /** The last 401/403 challenge the endpoint sent (what finishAuth needs: resource metadata URL, scope). */
  private challenge: { at: number; status: number; resourceMetadataUrl?: URL; scope?: string } = { at: 0, status: 0 };
  /** The provider the transports and finishAuth use: the user's, watched by the re-authorization guard. */
  private readonly authProvider: OAuthClientProvider | undefined;
  private readonly reauth = new ReauthGuard();
  /** `'native'`: what every session of the endpoint shares (its keep-alive pools among them). */
  private readonly native: NativeEndpoint | undefined;

  constructor(private readonly opts: StreamableHttpDriverOptions) {
    this.fetch = this.contextFetch();
    this.authProvider = opts.authProvider && this.reauth.wrap(opts.authProvider);
    this.native = (opts.httpClient ?? 'native') === 'native' ? new NativeEndpoint(this, opts, this.fetch) : undefined;
  }

  async create(ctx: CreateSessionContext): Promise<DriverSession> {
    if (this.native) return this.createNative(ctx, this.native);
    const watch = new LostResponseWatch();
    // A partition's session carries its identity on every request (initialize included), over the pool's
    // bearer token and any caller's headers: its own fetch applies it last.
    const identity = ctx.identity && Object.keys(ctx.identity).length ? ctx.identity : undefined;
    const reauth = this.opts.authProvider ? this.reauth.session() : undefined;
    const transport = new StreamableHTTPClientTransport(this.opts.endpoint, {
      // With an OAuth provider, each session's fetch and provider report to its own view of the guard.
      fetch: watch.wrapFetch(identity || reauth ? this.contextFetch(identity, reauth) : this.fetch),
      authProvider: reauth ? this.sessionAuthProvider(reauth) : undefined,
      // No requestInit: the SDK merges it into OAuth discovery, registration and token requests too. The
      // static headers are the fetch's, for endpoint requests only.
    });
    const client = buildSdkClient(ctx.client);
    try {
      await client.connect(transport, { signal: ctx.signal, timeout: ctx.timeoutMs });
    } catch (error) {
      watch.close();
      await transport.close().catch(() => undefined);
      throw error;
    }
    watch.attach(transport);
    return new HttpSession(client, transport, watch, this.opts.terminateTimeoutMs ?? 2000);
  }

  private async createNative(ctx: CreateSessionContext, endpoint: NativeEndpoint): Promise<DriverSession> {
    // A partition's session carries its identity on every request (initialize included), over the pool's
    // bearer token and any caller's headers; the keep-alive connections stay the endpoint's, shared.
    const identity = ctx.identity && Object.keys(ctx.identity).length ? ctx.identity : undefined;
    const reauth = this.opts.authProvider ? this.reauth.session() : undefined;
    const transport = new NativeStreamableHttpTransport(identity || reauth ? endpoint.forSession(identity, reauth) : endpoint);
    const client = buildSdkClient(ctx.client);
    try {
      await client.connect(transport, { signal: ctx.signal, timeout: ctx.timeoutMs });
      // A notification the server sends before the GET stream is open is lost (list_changed, say): the
      // session is handed out once the stream is open, or after a short bound for a server slow to answer it.
      await waitBounded(transport.standaloneStreamReady(), STREAM_READY_WAIT_MS, ctx.signal);
    } catch (error) {
      await transport.close().catch(() => undefined);
      throw error;
    }
    return new HttpSession(client, transport, undefined, this.opts.terminateTimeoutMs ?? 2000);
  }

  /** Closes the keep-alive connections of the native transport (after every session closed). */
  async close(): Promise<void> {
    await this.native?.close();
  }

  /** The user's OAuth provider as one session's OAuth flow sees it (watched by the guard for that session). */
  sessionAuthProvider(reauth: ReauthSession): OAuthClientProvider {
    return this.reauth.wrap(this.opts.authProvider!, reauth);
  }

  /** What a native transport saw of an endpoint response: the same notes as the SDK path's fetch takes. */
  observeNative(status: number, headers: ResponseHeaders, sent: Readonly<Record<string, string>>, reauth?: ReauthSession): void {
    if (status !== 401 && status !== 403 && status !== 429) return;
    const res = headersResponse(status, headers);
    this.noteResponse(res);
    reauth?.note(sent['authorization'], status, res.headers.get('www-authenticate'));
  }

  /**
   * The headers of one native request to the endpoint: static < bearer < the request's own < the session's
   * identity (a partition's; its own authorization replaces the bearer). Never protocol headers.
   */
  nativeHeaders(
    statics: Readonly<Record<string, string>>,
    identity?: Readonly<Record<string, string>>,
  ): Record<string, string> | Promise<Record<string, string>> {
    const origin = currentOrigin();
    const perRequest = origin ? origin.headers : currentMcpHeaders();
    const auth = identity?.authorization !== undefined ? undefined : this.opts.auth;
    const headers: Record<string, string> = { ...statics };
    const add = () => {
      if (perRequest) for (const name of Object.keys(perRequest)) if (!PROTOCOL_HEADERS.has(name)) headers[name] = perRequest[name]!;
      if (identity) for (const name of Object.keys(identity)) if (!PROTOCOL_HEADERS.has(name)) headers[name] = identity[name]!;
      return headers;
    };
    if (auth === undefined) return add();
    if (typeof auth === 'string') {
      headers['authorization'] = `Bearer ${auth}`;
      return add();
    }
    const token = auth();
    if (typeof token === 'string') {
      headers['authorization'] = `Bearer ${token}`;
      return add();
    }
    return token.then((t) => {
      headers['authorization'] = `Bearer ${t}`;
      return add();
    });
  }

  async finishAuth(authorizationCode: string): Promise<void> {
    if (!this.authProvider) throw new Error('no authProvider is configured on this pool');
    // Exchange the code as the transport would, with what the server's last challenge said (resource
    // metadata URL, scope). The provider keeps the tokens: every later session uses them.
    const result = await this.reauth.exchange(() =>
      runOAuth(this.authProvider!, {
        serverUrl: this.opts.endpoint,
        authorizationCode,
        resourceMetadataUrl: this.challenge.resourceMetadataUrl,
        scope: this.challenge.scope,
        fetchFn: this.fetch,
      }),
    );
    if (result !== 'AUTHORIZED') throw new UnauthorizedError('the authorization code was not accepted');
  }

  /** A 401/403 from the endpoint within the last few seconds (an error of the OAuth flow follows it). */
  private recentChallenge(): number | undefined {
    return Date.now() - this.challenge.at < 5000 ? this.challenge.status : undefined;
  }

  classify(error: unknown, session?: DriverSession): ErrorVerdict {
    if (error instanceof UnauthorizedError) return { kind: 'auth', status: this.recentChallenge() ?? 401, authorizationRequired: true };
    if (error instanceof RepeatedAuthChallengeError) return { kind: 'auth', status: error.status };
    if (error instanceof StreamableHTTPError) {
      const status = error.code;
      if (status === 401 || status === 403) return { kind: 'auth', status };
      // A 2026-07-28-only server refuses this 2025-era client: a configuration error, not an outage.
      const refused = status === 400 ? unsupportedVersionIn(error.message, session === undefined) : undefined;
      if (refused) return refused;
      if (status === 429) {
        // The SDK's error has no headers: Retry-After was noted by our fetch (just now, on this driver).
        const recent = Date.now() - this.retryAfter.at < 1000;
        return { kind: 'rate-limited', retryAfterMs: recent ? this.retryAfter.ms : undefined };
      }
      // The server no longer knows our session id: 404 per the spec, 400 "no valid session" from some
      // servers. The request was rejected, so it certainly did not run.
      if (status === 404 && session?.remoteId) return { kind: 'session-fatal', mayHaveRun: false };
      if (status === 400 && session?.remoteId && /session/i.test(error.message))
        return { kind: 'session-fatal', mayHaveRun: false };
      return { kind: 'call', status: typeof status === 'number' ? status : undefined };
    }
    const common = classifyCommon(error);
    if (common) return common;
    // The native transport's network failures say themselves whether the request reached the server.
    if (error instanceof HttpRequestError) return { kind: 'session-fatal', mayHaveRun: !error.neverSent };
    // An error raised inside the SDK's OAuth flow (discovery, token exchange) while creating a session the
    // endpoint refused: an auth problem, not an unreachable endpoint — no backoff loop, no circuit count.
    const challenged = session === undefined ? this.recentChallenge() : undefined;
    if (challenged !== undefined && this.opts.authProvider) return { kind: 'auth', status: challenged };
    // Checked by name, not instanceof: undici's errors come from Node's own realm, which differs from the
    // caller's under vm-based runners such as Jest.
    if (isErrorLike(error) && error.name === 'TypeError' && /fetch failed/i.test(error.message)) {
      const code = networkCode(error);
      return { kind: 'session-fatal', mayHaveRun: !(code && NEVER_SENT.has(code)) };
    }
    return { kind: 'call' };
  }

  /** The fetch of every session: the caller's headers per request; `identity` (a partition's) over everything. */
  private contextFetch(identity?: Readonly<Record<string, string>>, reauth?: ReauthSession): FetchLike {
    const base: FetchLike = linkedSignalFetch(this.opts.fetch ?? ((url, init) => fetch(url, init)));
    // The identity's own credential replaces the pool's bearer token (a partition by authorization).
    const auth = identity?.authorization !== undefined ? undefined : this.opts.auth;
    const noteRetryAfter = (response: Response): Response => {
      this.noteResponse(response);
      return response;
    };
    const endpoint = this.opts.endpoint;
    const statics = this.opts.headers && Object.keys(this.opts.headers).length ? this.opts.headers : undefined;
    // With an OAuth provider, the endpoint's challenges are noted for the re-authorization guard (the session's view).
    const endpointFetch: FetchLike = reauth
      ? async (url, init) => {
          const response = await base(url, init);
          reauth.note(new Headers(init?.headers).get('authorization'), response.status, response.headers.get('www-authenticate'));
          return response;
        }
      : base;
    return async (url, init) => {
      // Credentials and a caller's headers go to the MCP endpoint only: never to the OAuth discovery and
      // token requests the SDK sends through this same fetch to other URLs and hosts.
      if (!isEndpoint(url, endpoint)) return noteRetryAfter(await base(url, init));
      // A pool request carries its own headers (computed by the core); a call made on `lease.client`
      // directly carries those of the caller's context.
      const origin = currentOrigin();
      const perRequest = origin ? origin.headers : currentMcpHeaders();
      if (!perRequest && auth === undefined && !identity && !statics) return noteRetryAfter(await endpointFetch(url, init));
      // Precedence: static headers (where the SDK set nothing, as its requestInit would be) < auth <
      // per-request headers < the session's identity.
      const headers = new Headers(init?.headers);
      if (statics) for (const name of Object.keys(statics)) if (!headers.has(name)) headers.set(name, statics[name]!);
      if (auth !== undefined) headers.set('authorization', `Bearer ${typeof auth === 'string' ? auth : await auth()}`);
      // Context headers can come from anyone's runWithMcpHeaders(): protocol headers stay the transport's.
      if (perRequest) for (const name of Object.keys(perRequest)) if (!PROTOCOL_HEADERS.has(name)) headers.set(name, perRequest[name]!);
      if (identity) for (const name of Object.keys(identity)) if (!PROTOCOL_HEADERS.has(name)) headers.set(name, identity[name]!);
      return noteRetryAfter(await endpointFetch(url, { ...init, headers }));
    };
  }

  /** Notes a 401/403 challenge (what finishAuth and classify need) and a 429's Retry-After. */
  private noteResponse(response: Pick<Response, 'status' | 'headers'>): void {
    if ((response.status === 401 || response.status === 403) && response.headers.has('www-authenticate')) {
      const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(response as Response);
      this.challenge = { at: Date.now(), status: response.status, resourceMetadataUrl, scope };
    } else if (response.status === 401 || response.status === 403) {
      this.challenge = { ...this.challenge, at: Date.now(), status: response.status };
    }
    if (response.status === 429) {
      const ms = retryAfterMs(response.headers.get('retry-after'));
      if (ms !== undefined) this.retryAfter = { at: Date.now(), ms };
    }
  }
}

/** How long a new native session waits for its GET stream to open before it is handed out anyway. */
const STREAM_READY_WAIT_MS = 1000;

/** Waits for `p` at most `ms`; rejects if `signal` aborts first. */
async function waitBounded(p: Promise<void>, ms: number, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      p,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
      new Promise<void>((_, reject) => {
        onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** The endpoint as the native transports of one driver share it: keep-alive pools, headers, OAuth. */
class NativeEndpoint implements NativeHttpEndpoint {
  readonly url: URL;
  readonly authFetch: FetchLike;
  /** origin -> pool for requests (bounded by maxConnections), and one for the long-lived GET streams. */
  private readonly pools = new Map<string, Dispatcher>();
  private readonly streamPools = new Map<string, Dispatcher>();
  private readonly statics: Record<string, string> = {};
  private closed = false;

  constructor(
    private readonly driver: StreamableHttpDriver,
    private readonly opts: StreamableHttpDriverOptions,
    fetch: FetchLike,
  ) {
    this.url = opts.endpoint;
    this.authFetch = fetch;
    for (const [name, value] of Object.entries(opts.headers ?? {})) this.statics[name.toLowerCase()] = value;
  }

  dispatcherFor(origin: string, stream = false): Dispatcher {
    // After shutdown no request is sent: "Not connected" says it never left.
    if (this.closed) throw new Error('Not connected');
    const pools = stream ? this.streamPools : this.pools;
    let pool = pools.get(origin);
    if (!pool) {
      const max = this.opts.maxConnections;
      pool = new (loadUndici().Pool)(origin, {
        connections: stream || !max ? null : max,
        // The MCP request's own deadline governs (the pool cancels it); a GET stream may be quiet for long.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      pools.set(origin, pool);
    }
    return pool;
  }

  headers(): Record<string, string> | Promise<Record<string, string>> {
    return this.driver.nativeHeaders(this.statics);
  }

  /**
   * The endpoint as one session sees it: the same connections; its identity (a partition's) on every
   * request; with an OAuth provider, its own view of the re-authorization guard.
   */
  forSession(identity: Readonly<Record<string, string>> | undefined, reauth: ReauthSession | undefined): NativeHttpEndpoint {
    return {
      url: this.url,
      // With an OAuth provider every session has its view of the guard; the endpoint itself serves only
      // sessions without one, so it has no provider of its own.
      authProvider: reauth ? this.driver.sessionAuthProvider(reauth) : undefined,
      authFetch: this.authFetch,
      dispatcherFor: (origin, stream) => this.dispatcherFor(origin, stream),
      headers: () => this.driver.nativeHeaders(this.statics, identity),
      observe: (status, headers, sent) => this.driver.observeNative(status, headers, sent, reauth),
    };
  }

  observe(status: number, headers: ResponseHeaders, sent: Readonly<Record<string, string>>): void {
    this.driver.observeNative(status, headers, sent);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values(), ...this.streamPools.values()];
    this.pools.clear();
    this.streamPools.clear();
    // Every session is closed by now: close() lets a last request finish, destroy() ends whatever is left.
    await Promise.all(
      all.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pool.close().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
        clearTimeout(timer);
        await pool.destroy().catch(() => undefined);
      }),
    );
  }
}

/** A Response-shaped view of undici's response headers, for the SDK's header readers. */
function headersResponse(status: number, headers: ResponseHeaders): Pick<Response, 'status' | 'headers'> {
  const get = (name: string): string | null => {
    const v = headers[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  };
  return { status, headers: { get, has: (name: string) => get(name) !== null } as Headers };
}

/** What a session needs of its transport, SDK or native. */
interface SessionTransport {
  readonly sessionId: string | undefined;
  terminateSession(): Promise<void>;
}

class HttpSession extends SdkSession implements DriverSession {
  private closing = false;

  constructor(
    client: Client,
    private readonly transport: SessionTransport,
    private readonly watch: LostResponseWatch | undefined,
    private readonly terminateTimeoutMs: number,
  ) {
    super(client);
    // The HTTP transport only "closes" when we close it; a dead server shows up as failed requests,
    // which the pool classifies. Still, a close we did not ask for means the session is gone.
    client.onclose = () => {
      if (!this.closing) this.onDied?.(new Error('the MCP transport closed'));
    };
  }

  get remoteId(): string | undefined {
    return this.transport.sessionId;
  }

  close(): Promise<void> {
    // A close belongs to no caller: whoever triggered it, its DELETE carries no caller's headers.
    return withoutRequestContext(() => outsideOrigin(() => this.doClose()));
  }

  private async doClose(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // DELETE the session (politeness to the server; bounded), then abort everything the transport holds.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.transport.terminateSession().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.terminateTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.watch?.close();
    await this.client.close().catch(() => undefined);
  }
}

/**
 * The -32022 (unsupported protocol version) answer in a 400's body, which the SDK puts in the error's
 * message: `{"error":{"code":-32022,"data":{"supported":[…],"requested":"…"}}}`.
 */
function unsupportedVersionIn(message: string, creating: boolean): Extract<ErrorVerdict, { kind: 'incompatible' }> | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    const body = JSON.parse(message.slice(start)) as { error?: { code?: unknown; data?: { supported?: unknown; requested?: unknown } } };
    // -32020 to an initialize ("Missing MCP-Protocol-Version header"): the server wants the 2026-07-28 headers
    // on every request, so it is modern-only as well.
    if (body?.error?.code === -32020 && creating) return { kind: 'incompatible', supportedVersions: [], requestedVersion: '2025-11-25' };
    if (body?.error?.code !== -32022) return undefined;
    const supported = Array.isArray(body.error.data?.supported) ? body.error.data.supported.filter((v): v is string => typeof v === 'string') : [];
    const requested = body.error.data?.requested;
    return { kind: 'incompatible', supportedVersions: supported, requestedVersion: typeof requested === 'string' ? requested : undefined };
  } catch {
    return undefined;
  }
}

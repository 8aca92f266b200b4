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
  /** The fetch to call underneath (default: global fetch). */
  fetch?: FetchLike;
}

/** Network error codes that prove the request never reached the server. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Streamable HTTP sessions. Each session is one SDK transport (one `Mcp-Session-Id`). The transport is
 * given our own `fetch`, which adds the headers of the current request context (AsyncLocalStorage) to
 * that one HTTP request, so that per-request headers reach the wire on a shared, warm session.
 */
export class StreamableHttpDriver implements SessionDriver {
  readonly kind = 'streamable_http';
  readonly supportsHeaders = true;
  private readonly fetch: FetchLike;
  private retryAfter = { at: 0, ms: 0 };
  /** The last 401/403 challenge the endpoint sent (what finishAuth needs: resource metadata URL, scope). */
  private challenge: { at: number; status: number; resourceMetadataUrl?: URL; scope?: string } = { at: 0, status: 0 };

  constructor(private readonly opts: StreamableHttpDriverOptions) {
    this.fetch = this.contextFetch();
  }

  async create(ctx: CreateSessionContext): Promise<DriverSession> {
    const watch = new LostResponseWatch();
    const transport = new StreamableHTTPClientTransport(this.opts.endpoint, {
      fetch: watch.wrapFetch(this.fetch),
      authProvider: this.opts.authProvider,
      requestInit: this.opts.headers && Object.keys(this.opts.headers).length ? { headers: { ...this.opts.headers } } : undefined,
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

  async finishAuth(authorizationCode: string): Promise<void> {
    if (!this.opts.authProvider) throw new Error('no authProvider is configured on this pool');
    // Exchange the code as the transport would, with what the server's last challenge said (resource
    // metadata URL, scope). The provider keeps the tokens: every later session uses them.
    const result = await runOAuth(this.opts.authProvider, {
      serverUrl: this.opts.endpoint,
      authorizationCode,
      resourceMetadataUrl: this.challenge.resourceMetadataUrl,
      scope: this.challenge.scope,
      fetchFn: this.fetch,
    });
    if (result !== 'AUTHORIZED') throw new UnauthorizedError('the authorization code was not accepted');
  }

  /** A 401/403 from the endpoint within the last few seconds (an error of the OAuth flow follows it). */
  private recentChallenge(): number | undefined {
    return Date.now() - this.challenge.at < 5000 ? this.challenge.status : undefined;
  }

  classify(error: unknown, session?: DriverSession): ErrorVerdict {
    if (error instanceof UnauthorizedError) return { kind: 'auth', status: this.recentChallenge() ?? 401, authorizationRequired: true };
    if (error instanceof StreamableHTTPError) {
      const status = error.code;
      if (status === 401 || status === 403) return { kind: 'auth', status };
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

  private contextFetch(): FetchLike {
    const base: FetchLike = linkedSignalFetch(this.opts.fetch ?? ((url, init) => fetch(url, init)));
    const auth = this.opts.auth;
    const noteRetryAfter = (response: Response): Response => {
      if ((response.status === 401 || response.status === 403) && response.headers.has('www-authenticate')) {
        const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(response);
        this.challenge = { at: Date.now(), status: response.status, resourceMetadataUrl, scope };
      } else if (response.status === 401 || response.status === 403) {
        this.challenge = { ...this.challenge, at: Date.now(), status: response.status };
      }
      if (response.status === 429) {
        const ms = retryAfterMs(response.headers.get('retry-after'));
        if (ms !== undefined) this.retryAfter = { at: Date.now(), ms };
      }
      return response;
    };
    const endpoint = this.opts.endpoint;
    return async (url, init) => {
      // Credentials and a caller's headers go to the MCP endpoint only: never to the OAuth discovery and
      // token requests the SDK sends through this same fetch to other URLs and hosts.
      if (!isEndpoint(url, endpoint)) return noteRetryAfter(await base(url, init));
      // A pool request carries its own headers (computed by the core); a call made on `lease.client`
      // directly carries those of the caller's context.
      const origin = currentOrigin();
      const perRequest = origin ? origin.headers : currentMcpHeaders();
      if (!perRequest && auth === undefined) return noteRetryAfter(await base(url, init));
      // Precedence: static headers (already in init, via requestInit) < auth < per-request headers.
      const headers = new Headers(init?.headers);
      if (auth !== undefined) headers.set('authorization', `Bearer ${typeof auth === 'string' ? auth : await auth()}`);
      // Context headers can come from anyone's runWithMcpHeaders(): protocol headers stay the transport's.
      if (perRequest) for (const name of Object.keys(perRequest)) if (!PROTOCOL_HEADERS.has(name)) headers.set(name, perRequest[name]!);
      return noteRetryAfter(await base(url, { ...init, headers }));
    };
  }
}

class HttpSession extends SdkSession implements DriverSession {
  private closing = false;

  constructor(
    client: Client,
    private readonly transport: StreamableHTTPClientTransport,
    private readonly watch: LostResponseWatch,
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
    this.watch.close();
    await this.client.close().catch(() => undefined);
  }
}

/** Whether `url` is the MCP endpoint itself (same origin and path; the query may differ). */
function isEndpoint(url: string | URL, endpoint: URL): boolean {
  const u = typeof url === 'string' ? new URL(url) : url;
  return u.origin === endpoint.origin && u.pathname === endpoint.pathname;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

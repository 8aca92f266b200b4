import type { Client, FetchLike, McpSubscription, PriorDiscovery, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { CreateSessionContext, DriverSession, ErrorVerdict, McpProtocolOption, SessionDriver } from '../../core/driver';
import { currentMcpHeaders, withoutRequestContext } from '../../context/request-context';
import { isProtocolHeader } from '../../util/headers';
import { linkedSignalFetch } from '../linked-fetch';
import { currentOrigin, outsideOrigin } from '../sdk-client';
import { classifyV2Error } from './classify';
import { EraCache, eraCacheKey, sharedEraCache } from './era-cache';
import { loadV2Client, type V2ClientModule } from './load-client';
import { OwnedConnections } from './owned-connections';
import { MODERN_PROTOCOL_VERSION, V2Session, buildV2Client, openListChanged } from './v2-session';
import { isEndpoint, retryAfterMs } from '../endpoint-url';
import { ReauthGuard, RepeatedAuthChallengeError, type ReauthSession } from '../reauth-guard';

export interface V2HttpDriverOptions {
  poolName: string;
  endpoint: URL;
  /** `'auto'` or `'modern'` (a `'legacy'` pool runs on the SDK 1.x driver). */
  protocol: Exclude<McpProtocolOption, 'legacy'>;
  headers?: Readonly<Record<string, string>>;
  /** Bearer token source (cached by the core); sent to the MCP endpoint only. */
  auth?: () => string | Promise<string>;
  /** An OAuth client provider for the v2 transport (its `OAuthClientProvider` shape). */
  authProvider?: object;
  /** The era verdicts; default: the process-wide cache (keys are per endpoint and identity). */
  eraCache?: EraCache;
  /** Sockets per origin of the driver's own keep-alive connections. Default 64. */
  maxConnections?: number;
  /** Replaces the driver's own connections (tests). */
  fetch?: FetchLike;
  /** Bound on the DELETE of a legacy session at close. Default 2000. */
  terminateTimeoutMs?: number;
}

/**
 * Streamable HTTP sessions on the v2 MCP client (`@modelcontextprotocol/client`), which speaks both protocol
 * eras. A session is one long-lived v2 `Client`: on a 2026-07-28 server it holds no server state (no
 * session id), but it keeps the tools index the client validates output and mirrors `Mcp-Name` /
 * `Mcp-Param-*` headers with, and its `subscriptions/listen` stream; on a 2025 server it is a session as
 * the SDK 1.x driver's are.
 *
 * `'auto'` probes once per endpoint and identity (`server/discover`, falling back to `initialize`); the
 * verdict is cached (see {@link EraCache}) and every later session connects with `prior`: a modern one
 * with no round trip, a legacy one straight to `initialize`.
 */
export class V2HttpDriver implements SessionDriver {
  readonly kind = 'streamable_http';
  readonly supportsHeaders = true;
  private readonly mod: V2ClientModule;
  private readonly fetch: FetchLike;
  private readonly eras: EraCache;
  private retryAfter = { at: 0, ms: 0 };
  /** The last transport an OAuth provider authorized through: it holds what the code exchange needs. */
  private authTransport: StreamableHTTPClientTransport | undefined;
  /** The keep-alive connections this driver's sessions share, closed with the pool. */
  readonly connections: OwnedConnections;
  /** One guard for every session: each transport's OAuth flow is watched through its own view of it. */
  private readonly reauth = new ReauthGuard();

  constructor(private readonly opts: V2HttpDriverOptions) {
    this.mod = loadV2Client(opts.poolName, opts.protocol);
    this.eras = opts.eraCache ?? sharedEraCache;
    this.connections = new OwnedConnections(opts.maxConnections ?? 64);
    this.fetch = this.endpointFetch();
  }

  /** Closes the driver's connections (the pool calls it once, after every session is closed). */
  async close(): Promise<void> {
    this.connections.close();
  }

  async create(ctx: CreateSessionContext): Promise<DriverSession> {
    // A partition's session carries its identity on every request (its own authorization replaces the
    // bearer token), and the era is learned per identity: the identity is part of the verdict's key.
    const identity = ctx.identity && Object.keys(ctx.identity).length ? ctx.identity : undefined;
    const bearer = this.opts.auth && identity?.authorization === undefined ? await this.opts.auth() : undefined;
    const key = eraCacheKey(this.opts.endpoint, { ...this.opts.headers, ...identity }, bearer, this.opts.authProvider);
    // A legacy verdict (found by an 'auto' pool) is no use to a pool pinned to the modern era.
    const cached = this.eras.get(key);
    const prior = cached?.kind === 'legacy' && this.opts.protocol === 'modern' ? undefined : cached;
    try {
      return await this.connect(ctx, key, prior, identity);
    } catch (error) {
      // A cached verdict that no longer holds (the server changed era): forget it and ask the server.
      if (prior === undefined || ctx.signal.aborted) throw error;
      // The server refused the era the verdict named (-32022): the verdict is wrong, whatever classify() makes
      // of the refusal for the pool (an 'auto' pool treats it as a failed attempt): ask the server again.
      if (classifyV2Error(this.mod, error, undefined).kind === 'incompatible') {
        this.eras.delete(key);
        return this.connect(ctx, key, undefined, identity);
      }
      const verdict = this.classify(error, undefined);
      if (verdict.kind === 'auth' || verdict.kind === 'rate-limited') throw error;
      // A server that cannot be reached (refused, reset, timed out) or fails (5xx) says nothing about its
      // era: keep the verdict. Dropping it here made the next connect probe again, and a server coming back
      // answers its first requests with what it can (a 404 or 429 from a proxy or a half-started server),
      // which the v2 client reads as "legacy": a modern-only server was then declared incompatible for good,
      // a dual one pinned to the 2025 era.
      if (verdict.kind === 'session-fatal' || verdict.kind === 'timeout' || (verdict.kind === 'call' && (verdict.status ?? 0) >= 500)) throw error;
      this.eras.delete(key);
      return this.connect(ctx, key, undefined, identity);
    }
  }

  private async connect(
    ctx: CreateSessionContext,
    key: string,
    prior: PriorDiscovery | undefined,
    identity: Readonly<Record<string, string>> | undefined,
  ): Promise<DriverSession> {
    // With an OAuth provider, the session's fetch and provider report to its own view of the guard. The static
    // headers and the identity are added by the fetch, to endpoint requests only: not as the transport's
    // requestInit, which the v2 client merges into OAuth discovery, registration and token requests too.
    const reauth = this.opts.authProvider ? this.reauth.session() : undefined;
    const transport: StreamableHTTPClientTransport = new this.mod.StreamableHTTPClientTransport(this.opts.endpoint, {
      fetch: identity || reauth ? this.endpointFetch(identity, reauth) : this.fetch,
      authProvider: reauth ? (this.reauth.wrap(this.opts.authProvider!, reauth) as never) : undefined,
    });
    const client: Client = buildV2Client(this.mod, ctx.client, this.opts.protocol);
    if (reauth) this.authTransport = transport;
    try {
      await client.connect(transport, { signal: ctx.signal, timeout: ctx.timeoutMs, ...(prior ? { prior } : {}) });
    } catch (error) {
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      throw error;
    }
    const era = client.getProtocolEra() === 'modern' ? 'modern' : 'legacy';
    let subscription: McpSubscription | undefined;
    if (era === 'modern') {
      const discover = client.getDiscoverResult();
      if (discover && prior?.kind !== 'modern') this.eras.set(key, { kind: 'modern', discover });
      // The probe path opens the list_changed subscription itself; a connect from a prior verdict does not
      // (SDK 2.4): open the same one, so that every client has its subscriptions/listen stream.
      subscription = client.autoOpenedSubscription;
      if (!subscription && prior?.kind === 'modern') {
        try {
          subscription = await openListChanged(client, ctx);
        } catch (error) {
          await client.close().catch(() => undefined);
          throw error;
        }
      }
    } else if (prior?.kind !== 'legacy') {
      this.eras.set(key, { kind: 'legacy' });
    }
    const terminateTimeoutMs = this.opts.terminateTimeoutMs ?? 2000;
    const session = new V2Session(
      client,
      this.mod,
      era,
      () => transport.sessionId,
      // A legacy session is DELETEd (bounded), like the SDK 1.x driver's; a modern one has nothing to end.
      // Closes belong to no caller: no caller's headers on them.
      () =>
        withoutRequestContext(() =>
          outsideOrigin(async () => {
            if (era !== 'legacy' || !transport.sessionId) return;
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([
              transport.terminateSession().catch(() => undefined),
              new Promise<void>((resolve) => (timer = setTimeout(resolve, terminateTimeoutMs))),
            ]);
            clearTimeout(timer);
          }),
        ),
      subscription,
    );
    return session;
  }

  /**
   * Completes an OAuth authorization code flow, on the transport whose connect asked for it (it recorded the
   * server's challenge: resource metadata, scope, issuer). The provider keeps the tokens for every session.
   */
  async finishAuth(authorizationCode: string, iss?: string): Promise<void> {
    if (!this.opts.authProvider) throw new Error('no authProvider is configured on this pool');
    if (!this.authTransport) throw new Error('no authorization was started: create a session first');
    const transport = this.authTransport;
    await withoutRequestContext(() => outsideOrigin(() => this.reauth.exchange(() => transport.finishAuth(authorizationCode, iss))));
  }

  classify(error: unknown, session: DriverSession | undefined): ErrorVerdict {
    if (error instanceof RepeatedAuthChallengeError) return { kind: 'auth', status: error.status };
    const verdict = classifyV2Error(this.mod, error, session);
    // An 'auto' pool speaks 2026-07-28: a server that names it among its versions is not incompatible. The
    // probe's answer was not the server's (a proxy's 404, a 429 while it starts: the v2 client takes any
    // such 4xx for a 2025 server and falls back to initialize, which the modern-only server refuses). A
    // failed attempt, then, backed off and tried again with a fresh probe — not a verdict for good.
    if (verdict.kind === 'incompatible' && this.opts.protocol === 'auto' && verdict.supportedVersions.includes(MODERN_PROTOCOL_VERSION)) {
      return { kind: 'session-fatal', mayHaveRun: false };
    }
    if (verdict.kind === 'rate-limited' && verdict.retryAfterMs === undefined && Date.now() - this.retryAfter.at < 1000) {
      return { kind: 'rate-limited', retryAfterMs: this.retryAfter.ms };
    }
    return verdict;
  }

  /**
   * The transport's fetch: the static headers, the bearer token, and (for calls made on the raw client
   * inside a caller's context) that context's headers go to the MCP endpoint only, never to OAuth discovery
   * or token requests sent through the same fetch. A pool request carries its own headers in
   * RequestOptions.headers. Precedence: static (where the client set nothing) < bearer < context < identity.
   */
  private endpointFetch(identity?: Readonly<Record<string, string>>, reauth?: ReauthSession): FetchLike {
    const plain: FetchLike = this.opts.fetch ?? this.connections.fetch;
    const base = linkedSignalFetch(plain as never) as FetchLike;
    // A partition's identity goes last on every request to the endpoint; its own authorization replaces the bearer.
    const auth = identity?.authorization !== undefined ? undefined : this.opts.auth;
    const endpoint = this.opts.endpoint;
    const statics = this.opts.headers && Object.keys(this.opts.headers).length ? this.opts.headers : undefined;
    const note = (response: Response, init?: RequestInit, endpointResponse = false): Response => {
      // The endpoint's own challenges (never the authorization server's), and the token the refused request carried.
      if (endpointResponse) reauth?.note(new Headers(init?.headers).get('authorization'), response.status, response.headers.get('www-authenticate'));
      if (response.status === 429) {
        const ms = retryAfterMs(response.headers.get('retry-after'));
        if (ms !== undefined) this.retryAfter = { at: Date.now(), ms };
      }
      return response;
    };
    return async (url, init) => {
      if (!isEndpoint(url, endpoint)) return note(await base(url, init));
      const context = currentOrigin() ? undefined : currentMcpHeaders();
      if (auth === undefined && context === undefined && !identity && !statics) return note(await base(url, init), init, true);
      const headers = new Headers(init?.headers);
      if (statics) for (const name of Object.keys(statics)) if (!headers.has(name)) headers.set(name, statics[name]!);
      if (auth !== undefined) headers.set('authorization', `Bearer ${await auth()}`);
      if (context) for (const name of Object.keys(context)) if (!isProtocolHeader(name.toLowerCase())) headers.set(name, context[name]!);
      if (identity) for (const name of Object.keys(identity)) if (!isProtocolHeader(name.toLowerCase())) headers.set(name, identity[name]!);
      const sent = { ...init, headers };
      return note(await base(url, sent), sent, true);
    };
  }
}

import { UnauthorizedError, auth as runOAuth, extractWWWAuthenticateParams, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mediaTypeEssence } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import { isWithinOrigin, type FetchLike, type Transport, type TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Dispatcher } from 'undici';
import { HttpRequestError, lostResponseError } from './errors';
import { parseMessage } from './message';
import { SseParser } from './sse-parser';

/** Response headers as undici gives them (lower-case names). */
export type ResponseHeaders = Dispatcher.ResponseData['headers'];
type Body = Dispatcher.ResponseData['body'];
type Method = 'GET' | 'POST' | 'DELETE';

/** What every session of one endpoint shares: the connection pool, the headers, the OAuth provider. */
export interface NativeHttpEndpoint {
  readonly url: URL;
  /**
   * The keep-alive pool for `origin` (the endpoint's own, or one for a redirect target within its origin);
   * `stream`: for a GET stream, which holds its connection for as long as it lasts.
   */
  dispatcherFor(origin: string, stream: boolean): Dispatcher;
  /**
   * Headers (lower-case names) for one request to the endpoint, computed in the async context of the request
   * (the caller's, for a call). The transport adds the protocol headers after these.
   */
  headers(): Record<string, string> | Promise<Record<string, string>>;
  /** Sees the status and headers of every endpoint response before its body (challenges, Retry-After). */
  observe?(status: number, headers: ResponseHeaders, sent: Readonly<Record<string, string>>): void;
  /** The OAuth provider (the SDK's `auth()` runs with it on a 401, or a 403 `insufficient_scope`). */
  readonly authProvider?: OAuthClientProvider;
  /** The fetch the SDK's `auth()` sends discovery and token requests with (other URLs, no endpoint headers). */
  readonly authFetch?: FetchLike;
}

export interface ReconnectionOptions {
  initialReconnectionDelay: number;
  maxReconnectionDelay: number;
  reconnectionDelayGrowFactor: number;
  maxRetries: number;
}

/** The SDK transport's defaults. */
const DEFAULT_RECONNECTION: ReconnectionOptions = { initialReconnectionDelay: 1000, maxReconnectionDelay: 30000, reconnectionDelayGrowFactor: 1.5, maxRetries: 2 };
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

interface Exchange {
  status: number;
  headers: ResponseHeaders;
  body: Body;
  /** The URL that answered (after redirects followed within the origin). */
  url: URL;
}

/** How one SSE stream is read, and what it has seen (carried over when it is resumed). */
interface StreamState {
  /** Ids of the requests whose responses this stream owes (a POST's); empty for the GET stream. */
  readonly awaiting: Set<string | number>;
  readonly onresumptiontoken?: (token: string) => void;
  readonly replayMessageId?: string | number;
  lastEventId?: string;
  primed: boolean;
  /** A result response arrived (the SDK's test for "no need to reconnect"). */
  answered: boolean;
}

/**
 * The MCP Streamable HTTP client transport on undici: the SDK's `StreamableHTTPClientTransport` protocol
 * (sdk 1.32) without fetch and web streams. Requests go through the endpoint's keep-alive pool with
 * `dispatcher.request`; an SSE body is fed chunk by chunk to {@link SseParser}.
 *
 * What it does as the SDK does: JSON and SSE responses (by media type; batches); 202 bodies drained; the
 * session id taken from the response headers before the body is read; `mcp-protocol-version`; the standalone
 * GET stream after `notifications/initialized`, reconnected with the server's `retry` or backoff and resumed
 * with `Last-Event-ID` (a POST stream too, once it sent an event id); redirects followed within the origin
 * only; `DELETE` on terminate; OAuth through the SDK's own `auth()` (401, then a 403 `insufficient_scope`
 * step-up, each tried once for the same challenge).
 *
 * What it does that the SDK transport does not: a POST's `send()` lasts until its response stream ends, so a
 * stream that ends without the response (and cannot be resumed) fails that request at once
 * (`Connection closed`); each request has its own abort signal (undici's one listener, removed when the
 * body ends), all aborted by `close()`; network failures are {@link HttpRequestError}s that say whether the
 * request certainly never reached the server.
 */
export class NativeStreamableHttpTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];

  private _sessionId: string | undefined;
  private _protocolVersion: string | undefined;
  private started = false;
  private closed = false;
  private readonly inflight = new Set<AbortController>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private serverRetryMs: number | undefined;
  private hasCompletedAuthFlow = false;
  private lastUpscopingHeader: string | undefined;
  private resourceMetadataUrl: URL | undefined;
  private scope: string | undefined;
  private readonly path: string;
  private readonly origin: string;
  private standalone: Promise<void> | undefined;

  constructor(
    private readonly endpoint: NativeHttpEndpoint,
    private readonly reconnection: ReconnectionOptions = DEFAULT_RECONNECTION,
  ) {
    this.path = endpoint.url.pathname + endpoint.url.search;
    this.origin = endpoint.url.origin;
  }

  get sessionId(): string | undefined {
    return this._sessionId;
  }

  get protocolVersion(): string | undefined {
    return this._protocolVersion;
  }

  setProtocolVersion(version: string): void {
    this._protocolVersion = version;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('NativeStreamableHttpTransport already started');
    this.started = true;
  }

  async send(message: JSONRPCMessage | JSONRPCMessage[], options?: TransportSendOptions): Promise<void> {
    try {
      await this.post(message, options);
    } catch (error) {
      this.onerror?.(error as Error);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.wake();
    }
    this.timers.clear();
    const reason = new Error('the MCP transport was closed');
    for (const ac of this.inflight) ac.abort(reason);
    this.inflight.clear();
    this.onclose?.();
  }

  /** Ends the session on the server (DELETE); a 405 means the server does not offer that. */
  async terminateSession(): Promise<void> {
    if (!this._sessionId) return;
    try {
      const res = await this.exchange('DELETE', await this.commonHeaders(), undefined);
      await drain(res.body);
      if ((res.status < 200 || res.status > 299) && res.status !== 405) {
        throw new StreamableHTTPError(res.status, `Failed to terminate session: ${unfollowedRedirect(res) ?? `HTTP ${res.status}`}`);
      }
      this._sessionId = undefined;
    } catch (error) {
      this.onerror?.(error as Error);
      throw error;
    }
  }

  /** Opens the GET stream again from `lastEventId` (the SDK transport's `resumeStream`). */
  async resumeStream(lastEventId: string, options?: { onresumptiontoken?: (token: string) => void }): Promise<void> {
    const state = newState(undefined, options?.onresumptiontoken);
    const body = await this.openGetStream(lastEventId);
    if (body) void this.follow(body, state, true);
  }

  // ---------------------------------------------------------------------------------------------

  private async post(message: JSONRPCMessage | JSONRPCMessage[], options: TransportSendOptions | undefined): Promise<void> {
    if (options?.resumptionToken) {
      // The caller resumes a request it sent before: its response comes on a GET stream from that event.
      const replay = !Array.isArray(message) && 'method' in message && 'id' in message ? message.id : undefined;
      const state = newState(replay, options.onresumptiontoken);
      this.openGetStream(options.resumptionToken).then(
        (body) => body && this.follow(body, state, true),
        (error: unknown) => this.onerror?.(error as Error),
      );
      return;
    }
    const headers = await this.commonHeaders();
    headers['content-type'] = 'application/json';
    headers['accept'] = 'application/json, text/event-stream';
    const res = await this.exchange('POST', headers, JSON.stringify(message));
    // The session id comes with the headers of initialize's response: the client sends
    // notifications/initialized as soon as it has the response, which may be before its stream ends.
    const sid = header(res.headers, 'mcp-session-id');
    if (sid) this._sessionId = sid;

    if (res.status < 200 || res.status > 299) {
      const text = await readText(res.body).catch(() => null);
      if (res.status === 401 && this.endpoint.authProvider) {
        if (this.hasCompletedAuthFlow) throw new StreamableHTTPError(401, 'Server returned 401 after successful authentication');
        const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(asResponse(res.headers));
        this.resourceMetadataUrl = resourceMetadataUrl;
        this.scope = scope;
        await this.authorize();
        this.hasCompletedAuthFlow = true;
        return this.post(message, undefined);
      }
      if (res.status === 403 && this.endpoint.authProvider) {
        const { resourceMetadataUrl, scope, error } = extractWWWAuthenticateParams(asResponse(res.headers));
        if (error === 'insufficient_scope') {
          const challenge = header(res.headers, 'www-authenticate');
          // The same challenge again, to the token authorized for it: a second identical step-up would loop.
          if (this.lastUpscopingHeader === challenge) throw new StreamableHTTPError(403, 'Server returned 403 after trying upscoping');
          if (scope) this.scope = scope;
          if (resourceMetadataUrl) this.resourceMetadataUrl = resourceMetadataUrl;
          this.lastUpscopingHeader = challenge;
          await this.authorize();
          return this.post(message, undefined);
        }
      }
      throw new StreamableHTTPError(res.status, `Error POSTing to endpoint: ${unfollowedRedirect(res) ?? text}`);
    }
    this.hasCompletedAuthFlow = false;
    this.lastUpscopingHeader = undefined;

    if (res.status === 202) {
      await drain(res.body);
      if (!Array.isArray(message) && 'method' in message && message.method === 'notifications/initialized' && !('id' in message)) {
        this.startStandaloneStream();
      }
      return;
    }
    const awaiting = requestIds(message);
    if (awaiting.size === 0) {
      await drain(res.body);
      return;
    }
    const type = mediaType(header(res.headers, 'content-type'));
    if (type === 'text/event-stream') {
      const state = newState(undefined, options?.onresumptiontoken, awaiting);
      await this.follow(res.body, state, false);
      if (awaiting.size > 0 && !this.closed) throw lostResponseError();
    } else if (type === 'application/json') {
      const data: unknown = JSON.parse(await readText(res.body));
      const messages = Array.isArray(data) ? data.map((m) => parseMessage(m)) : [parseMessage(data)];
      for (const m of messages) this.onmessage?.(m);
    } else {
      await drain(res.body);
      throw new StreamableHTTPError(-1, `Unexpected content type: ${header(res.headers, 'content-type')}`);
    }
  }

  /** Runs the SDK's OAuth flow with the user's provider; throws unless it ends authorized. */
  private async authorize(): Promise<void> {
    const result = await runOAuth(this.endpoint.authProvider!, {
      serverUrl: this.endpoint.url,
      resourceMetadataUrl: this.resourceMetadataUrl,
      scope: this.scope,
      fetchFn: this.endpoint.authFetch,
    });
    if (result !== 'AUTHORIZED') throw new UnauthorizedError();
  }

  /**
   * Resolves once the standalone GET stream is open (or the server said it offers none, or opening it
   * failed): from then on no server notification can be missed. Resolved at once before initialization.
   */
  standaloneStreamReady(): Promise<void> {
    return this.standalone ?? Promise.resolve();
  }

  private startStandaloneStream(): void {
    this.standalone = this.openGetStream(undefined).then(
      (body) => {
        if (body) void this.follow(body, newState(undefined, undefined), true);
      },
      (error: unknown) => this.onerror?.(error as Error),
    );
  }

  /**
   * GET for server messages (from `lastEventId` when resuming). Resolves with the SSE body, or undefined
   * when the server offers no GET stream (405).
   */
  private async openGetStream(lastEventId: string | undefined, authorized = false): Promise<Body | undefined> {
    try {
      const headers = await this.commonHeaders();
      headers['accept'] = 'text/event-stream';
      if (lastEventId) headers['last-event-id'] = lastEventId;
      const res = await this.exchange('GET', headers, undefined);
      if (res.status < 200 || res.status > 299) {
        await drain(res.body);
        if (res.status === 401 && this.endpoint.authProvider && !authorized) {
          await this.authorize();
          return await this.openGetStream(lastEventId, true);
        }
        if (res.status === 405) return undefined;
        throw new StreamableHTTPError(res.status, `Failed to open SSE stream: ${unfollowedRedirect(res) ?? `HTTP ${res.status}`}`);
      }
      return res.body;
    } catch (error) {
      this.onerror?.(error as Error);
      throw error;
    }
  }

  /**
   * Reads an SSE stream to its end, then resumes it (GET with Last-Event-ID) as the SDK does: a GET stream
   * always, a POST stream once it sent an event id; never once a response arrived on it. Resolves when the
   * stream is done with (answered, closed, not resumable, or out of reconnection attempts).
   */
  private async follow(body: Body, state: StreamState, reconnectable: boolean): Promise<void> {
    let current: Body | undefined = body;
    while (current) {
      await this.read(current, state);
      current = undefined;
      const resumable = reconnectable || state.primed;
      if (!resumable || state.answered || this.closed) return;
      // Reconnect: a resumed stream is a GET stream from then on.
      reconnectable = true;
      for (let attempt = 0; current === undefined; attempt++) {
        if (attempt >= this.reconnection.maxRetries) {
          this.onerror?.(new Error(`Maximum reconnection attempts (${this.reconnection.maxRetries}) exceeded.`));
          return;
        }
        await this.sleep(this.reconnectionDelay(attempt));
        if (this.closed) return;
        try {
          current = await this.openGetStream(state.lastEventId);
          if (current === undefined) return; // 405: no GET stream
        } catch (error) {
          this.onerror?.(new Error(`Failed to reconnect SSE stream: ${error instanceof Error ? error.message : String(error)}`));
        }
      }
    }
  }

  /** Feeds one SSE body to a parser, delivering its messages; a broken stream is reported, not thrown. */
  private async read(body: Body, state: StreamState): Promise<void> {
    const parser = new SseParser(
      (event) => {
        if (event.id) {
          state.lastEventId = event.id;
          state.primed = true;
          state.onresumptiontoken?.(event.id);
        }
        if (!event.data) return; // priming events and keep-alives
        if (event.event && event.event !== 'message') return;
        let message: JSONRPCMessage;
        try {
          message = parseMessage(JSON.parse(event.data));
        } catch (error) {
          this.onerror?.(error as Error);
          return;
        }
        if ('id' in message && !('method' in message)) {
          if ('result' in message && state.replayMessageId !== undefined) message.id = state.replayMessageId;
          // A POST stream is done once every request it carries is answered; the GET stream once a result
          // arrived on it (the SDK's rule).
          if (state.awaiting.size > 0) {
            if (message.id !== undefined) state.awaiting.delete(message.id);
            if (state.awaiting.size === 0) state.answered = true;
          } else if ('result' in message) state.answered = true;
        }
        this.onmessage?.(message);
      },
      (ms) => {
        this.serverRetryMs = ms;
      },
    );
    try {
      for await (const chunk of body) parser.feed(chunk as Buffer);
    } catch (error) {
      if (!this.closed) this.onerror?.(new Error(`SSE stream disconnected: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  private reconnectionDelay(attempt: number): number {
    if (this.serverRetryMs !== undefined) return this.serverRetryMs;
    const { initialReconnectionDelay, reconnectionDelayGrowFactor, maxReconnectionDelay } = this.reconnection;
    return Math.min(initialReconnectionDelay * Math.pow(reconnectionDelayGrowFactor, attempt), maxReconnectionDelay);
  }

  /** Waits `ms`, or less when the transport closes. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        wake: resolve,
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
      };
      this.timers.add(entry);
    });
  }

  private async commonHeaders(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const provider = this.endpoint.authProvider;
    if (provider) {
      const tokens = await provider.tokens();
      if (tokens) out['authorization'] = `Bearer ${tokens.access_token}`;
    }
    const extra = this.endpoint.headers();
    Object.assign(out, extra instanceof Promise ? await extra : extra);
    if (this._sessionId) out['mcp-session-id'] = this._sessionId;
    if (this._protocolVersion) out['mcp-protocol-version'] = this._protocolVersion;
    return out;
  }

  /**
   * One request to the endpoint with its own abort signal (aborted by close()), following redirects as the
   * SDK's default policy does: within the endpoint's origin only, at most 5, and for a request with a body
   * only 307/308 (which keep the method). Any other redirect is returned as it is.
   */
  private async exchange(method: Method, headers: Record<string, string>, body: string | undefined): Promise<Exchange> {
    if (this.closed) throw new Error('Not connected');
    let url = this.endpoint.url;
    let dispatcher = this.endpoint.dispatcherFor(this.origin, method === 'GET');
    let path = this.path;
    for (let followed = 0; ; followed++) {
      const ac = new AbortController();
      this.inflight.add(ac);
      let data: Dispatcher.ResponseData;
      try {
        data = await dispatcher.request({ path, method, headers, body, signal: ac.signal });
      } catch (error) {
        this.inflight.delete(ac);
        if (this.closed) throw new Error('Not connected');
        throw new HttpRequestError(method, error);
      }
      const done = () => this.inflight.delete(ac);
      data.body.once('close', done);
      this.endpoint.observe?.(data.statusCode, data.headers, headers);
      const res: Exchange = { status: data.statusCode, headers: data.headers, body: data.body, url };
      const target = REDIRECT_STATUSES.has(res.status) ? redirectTarget(res) : undefined;
      if (!target || followed === MAX_REDIRECTS || (method !== 'GET' && res.status !== 307 && res.status !== 308)) return res;
      const addsUserinfo = (target.username || target.password) && (target.username !== url.username || target.password !== url.password);
      if (addsUserinfo || !isWithinOrigin(url, target)) return res;
      await drain(res.body);
      url = target;
      dispatcher = this.endpoint.dispatcherFor(target.origin, method === 'GET');
      path = target.pathname + target.search;
    }
  }
}

function newState(replayMessageId: string | number | undefined, onresumptiontoken: ((token: string) => void) | undefined, awaiting = new Set<string | number>()): StreamState {
  return { awaiting, onresumptiontoken, replayMessageId, primed: false, answered: false };
}

function requestIds(message: JSONRPCMessage | JSONRPCMessage[]): Set<string | number> {
  const ids = new Set<string | number>();
  for (const m of Array.isArray(message) ? message : [message]) if ('method' in m && 'id' in m && m.id !== undefined) ids.add(m.id);
  return ids;
}

function header(headers: ResponseHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The media type of a Content-Type, as the SDK parses it (with a fast path for the usual values). */
function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === 'text/event-stream' || contentType === 'application/json') return contentType;
  return mediaTypeEssence(contentType ?? null);
}

/** What the SDK's header readers need of a Response (extractWWWAuthenticateParams reads headers.get). */
function asResponse(headers: ResponseHeaders): Response {
  return { headers: { get: (name: string) => header(headers, name.toLowerCase()) ?? null } } as unknown as Response;
}

function redirectTarget(res: Exchange): URL | undefined {
  const location = header(res.headers, 'location');
  try {
    return location ? new URL(location, res.url) : undefined;
  } catch {
    return undefined;
  }
}

/** The SDK's text for a redirect it did not follow (target without userinfo, query or fragment). */
function unfollowedRedirect(res: Exchange): string | undefined {
  const target = REDIRECT_STATUSES.has(res.status) ? redirectTarget(res) : undefined;
  if (!target) return undefined;
  target.username = target.password = target.search = target.hash = '';
  if (target.protocol === 'http:' && res.url.protocol === 'https:') {
    target.protocol = 'https:';
    return `Redirect to plain http not followed; try ${target.href} instead (redirectPolicy: 'same-origin')`;
  }
  return `Redirect to ${target.href} not followed (redirectPolicy: 'same-origin')`;
}

async function readText(body: Body): Promise<string> {
  return body.text();
}

/** Reads a body to its end, so its connection goes back to the pool. */
async function drain(body: Body): Promise<void> {
  await body.dump().catch(() => undefined);
}

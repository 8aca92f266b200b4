import { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import { loadUndici } from '../native-http/undici-loader';

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Statuses whose response has no body (a Response with one would throw). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The HTTP connections of one v2 driver: an undici `Agent` of its own for requests (keep-alive, at most
 * `maxSockets` connections per origin) and one for the long-lived streams (a connection each) — the
 * connection stack of the SDK 1.x driver's native transport — and a `fetch` on their `request()`. The pool owns them: {@link close} destroys every connection, idle or not, so that
 * nothing of the pool outlives its shutdown (global fetch would keep idle sockets open until its keep-alive
 * timeout, and shares them with the rest of the process).
 *
 * Not undici's own `fetch` on the agent: measured in `npm run bench -- modern`, its WHATWG request machinery
 * cost the pool 10–15% of its calls per second at 1 caller against this thin `request()`, which only builds
 * the Response the SDK reads.
 *
 * The fetch behaves as global fetch does where the SDK looks: a network failure before the response
 * rejects with `TypeError('fetch failed')` whose `cause` has the errno code; an abort rejects with an
 * `AbortError`; the body is a web stream (SSE is read incrementally), and `statusText` is the server's.
 * Unlike fetch, a connection cut in the middle of a body errors the stream with undici's own error (a
 * `SocketError`), not `TypeError('terminated')`: the v2 client treats both alike. Redirects are not followed
 * (the v2 client follows same-origin ones itself, OAuth requests included). The agent is made on the first request, so that a pool that never sends one loads no undici.
 */
export class OwnedConnections {
  /** Requests (bounded), and the long-lived streams: each its own connection, outside the bound, as on the native transport. */
  private agent: Agent | undefined;
  private streamAgent: Agent | undefined;
  private closed = false;

  constructor(readonly maxSockets: number) {}

  /** Connections open right now, busy or idle (for tests and metrics). */
  get openSockets(): number {
    let n = 0;
    for (const agent of [this.agent, this.streamAgent]) {
      for (const stats of Object.values(agent?.stats ?? {})) n += typeof stats.connected === 'number' ? stats.connected : stats.connected ? 1 : 0;
    }
    return n;
  }

  readonly fetch: Fetch = async (input, init) => {
    const body = init?.body;
    if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) return this.send(input, init, body ?? undefined);
    // Any other body (URLSearchParams of an OAuth token request, a Blob, FormData…): the bytes, and the
    // content type, as fetch would send them.
    const request = new Request(typeof input === 'string' ? input : input.href, { method: init?.method ?? 'POST', headers: init?.headers, body });
    const headers = new Headers(init?.headers);
    const type = request.headers.get('content-type');
    if (type && !headers.has('content-type')) headers.set('content-type', type);
    return this.send(input, { ...init, headers }, new Uint8Array(await request.arrayBuffer()));
  };

  private async send(input: string | URL, init: RequestInit | undefined, body: string | Uint8Array | undefined): Promise<Response> {
    if (this.closed) throw new TypeError('fetch failed', { cause: Object.assign(new Error('the pool closed its connections'), { code: 'ECONNREFUSED' }) });
    const url = typeof input === 'string' ? new URL(input) : input;
    const signal = init?.signal ?? undefined;
    if (signal?.aborted) throw abortError(signal);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
    const method = (init?.method ?? 'GET') as Dispatcher.HttpMethod;
    // A stream that stays open for the session's life (a 2026-07-28 subscriptions/listen, a 2025 GET stream)
    // must not hold one of the requests' connections: with a stream per session, the bound would be spent.
    const stream = method === 'GET' || headers['mcp-method'] === 'subscriptions/listen';
    const agent = stream ? (this.streamAgent ??= this.newAgent(null)) : (this.agent ??= this.newAgent(this.maxSockets));
    let res: Dispatcher.ResponseData;
    try {
      res = await agent.request({ origin: url.origin, path: url.pathname + url.search, method, headers, body, signal: signal as never });
    } catch (error) {
      if (signal?.aborted) throw abortError(signal);
      throw new TypeError('fetch failed', { cause: error });
    }
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
      else responseHeaders.set(name, value);
    }
    const noBody = NULL_BODY.has(res.statusCode) || method === 'HEAD';
    if (noBody) res.body.resume();
    return new Response(noBody ? null : (Readable.toWeb(res.body) as unknown as ReadableStream<Uint8Array>), { status: res.statusCode, statusText: res.statusText, headers: responseHeaders });
  }

  private newAgent(connections: number | null): Agent {
    return new (loadUndici().Agent)({
      connections,
      // The MCP request's own deadline governs (the pool cancels it); a stream may be quiet for long.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** Destroys every connection, busy or idle; later fetches fail as never sent. */
  close(): void {
    this.closed = true;
    for (const agent of [this.agent, this.streamAgent]) void agent?.destroy().catch(() => undefined);
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return Object.assign(new Error('This operation was aborted', { cause: reason }), { name: 'AbortError' });
}

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Statuses whose response has no body (a Response with one would throw). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The HTTP connections of one pool's driver: a keep-alive agent per scheme, with at most `maxSockets`
 * sockets per origin, and a `fetch` on it. The pool owns them: {@link close} destroys every socket, idle or
 * not, so that nothing of the pool outlives its shutdown (global fetch would keep idle sockets open until
 * its keep-alive timeout, and shares them with the rest of the process).
 *
 * The fetch behaves as global fetch does where the SDK looks: a network failure rejects with
 * `TypeError('fetch failed')` whose `cause` has the errno code; an abort rejects with an `AbortError`; the
 * body is a web stream (SSE is read incrementally).
 */
export class OwnedConnections {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;
  private closed = false;

  constructor(readonly maxSockets: number) {
    const options = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
    this.http = new HttpAgent(options);
    this.https = new HttpsAgent(options);
  }

  /** Sockets open right now, busy or idle (for tests and metrics). */
  get openSockets(): number {
    let n = 0;
    for (const agent of [this.http, this.https]) {
      for (const list of Object.values(agent.sockets)) n += list?.length ?? 0;
      for (const list of Object.values(agent.freeSockets)) n += list?.length ?? 0;
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

  private send(input: string | URL, init: RequestInit | undefined, body: string | Uint8Array | undefined): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      if (this.closed) return reject(new TypeError('fetch failed', { cause: Object.assign(new Error('the pool closed its connections'), { code: 'ECONNREFUSED' }) }));
      const url = typeof input === 'string' ? new URL(input) : input;
      const signal = init?.signal ?? undefined;
      if (signal?.aborted) return reject(abortError(signal));
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const isHttps = url.protocol === 'https:';
      const req = (isHttps ? httpsRequest : httpRequest)(url, { method: init?.method ?? 'GET', headers, agent: isHttps ? this.https : this.http });
      let settled = false;
      let res: IncomingMessage | undefined;
      const onAbort = () => {
        const error = abortError(signal!);
        req.destroy(error);
        res?.destroy(error);
        if (!settled) {
          settled = true;
          reject(error);
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      req.on('error', (error) => {
        done();
        if (settled) return;
        settled = true;
        reject(signal?.aborted ? abortError(signal) : new TypeError('fetch failed', { cause: error }));
      });
      req.on('response', (incoming) => {
        res = incoming;
        settled = true;
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          if (value === undefined) continue;
          if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
          else responseHeaders.set(name, value);
        }
        incoming.once('close', done);
        const status = incoming.statusCode ?? 0;
        const noBody = NULL_BODY.has(status) || init?.method === 'HEAD';
        if (noBody) incoming.resume();
        resolve(
          new Response(noBody ? null : (Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>), {
            status,
            statusText: incoming.statusMessage,
            headers: responseHeaders,
          }),
        );
      });
      req.end(body);
    });
  }

  /** Destroys every socket, busy or idle; later fetches fail as never sent. */
  close(): void {
    this.closed = true;
    this.http.destroy();
    this.https.destroy();
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return Object.assign(new Error('This operation was aborted', { cause: reason }), { name: 'AbortError' });
}

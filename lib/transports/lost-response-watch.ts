import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Message of the error given to a request whose response can no longer arrive. */
export const LOST_RESPONSE_MESSAGE = 'Connection closed: the response stream ended before the response arrived';

/**
 * How long after a response stream ends we wait for its response to come out of the SDK's SSE parser.
 * The parser runs on promise callbacks, so a response that was in the stream is delivered well within one
 * macrotask; the margin only guards against a stalled event loop.
 */
const GRACE_MS = 50;

/**
 * Fails requests whose response was lost with their SSE stream.
 *
 * The SDK's Streamable HTTP client answers a request from the SSE stream of its POST. When that stream
 * ends or breaks before the response (the server died, restarted, or dropped the session) and the server
 * offered no resumption (no event ids), the SDK keeps the request pending until its timeout, 60 s by
 * default. This watch sees each POST through the transport's `fetch`, notes which request ids are waiting,
 * and when a stream ends with its request still unanswered, hands the SDK an error response for it, so the
 * caller fails at once and the pool learns the session is gone.
 */
export class LostResponseWatch {
  /** Request ids sent and not answered yet. */
  private readonly awaiting = new Set<string | number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private transport: Transport | undefined;
  private closed = false;

  /** Wraps `base`: the transport of one session must use the returned fetch. */
  wrapFetch(base: FetchLike): FetchLike {
    return async (url, init) => {
      const id = this.transport && init?.method === 'POST' ? requestIdOf(init.body) : undefined;
      if (id === undefined) return base(url, init);
      this.awaiting.add(id);
      let response: Response;
      try {
        response = await base(url, init);
      } catch (error) {
        this.awaiting.delete(id); // the SDK rejects the request itself
        throw error;
      }
      if (!response.ok || !response.body || !isEventStream(response)) {
        if (!response.ok) this.awaiting.delete(id);
        return response;
      }
      return this.watchStream(response, id);
    };
  }

  /** Starts watching once the client is connected (initialize has its own connect deadline). */
  attach(transport: Transport): void {
    this.transport = transport;
    const deliver = transport.onmessage;
    transport.onmessage = (message, extra) => {
      if (isResponse(message)) this.awaiting.delete(message.id);
      deliver?.(message, extra);
    };
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.awaiting.clear();
  }

  private watchStream(response: Response, id: string | number): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    let resumable = false;
    const decoder = new TextDecoder();
    const sniff = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        // A stream whose events carry ids can be resumed by the SDK (Last-Event-ID): leave it to the SDK.
        if (!resumable && /(^|\n)id:/.test(decoder.decode(chunk, { stream: true }))) resumable = true;
        controller.enqueue(chunk);
      },
    });
    const ended = () => {
      if (!resumable) this.checkLater(id);
    };
    response.body!.pipeThrough(sniff).pipeTo(writable).then(ended, ended);
    return new Response(readable, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  private checkLater(id: string | number): void {
    if (this.closed || !this.awaiting.has(id)) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed || !this.awaiting.delete(id)) return;
      this.transport?.onmessage?.({
        jsonrpc: '2.0',
        id,
        error: { code: ErrorCode.ConnectionClosed, message: LOST_RESPONSE_MESSAGE },
      });
    }, GRACE_MS);
    this.timers.add(timer);
  }
}

function requestIdOf(body: unknown): string | number | undefined {
  if (typeof body !== 'string' || body.charCodeAt(0) !== 123 /* { */) return undefined;
  try {
    const msg = JSON.parse(body) as { id?: unknown; method?: unknown };
    return typeof msg.method === 'string' && (typeof msg.id === 'number' || typeof msg.id === 'string') ? msg.id : undefined;
  } catch {
    return undefined;
  }
}

function isEventStream(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
}

function isResponse(message: JSONRPCMessage): message is JSONRPCMessage & { id: string | number } {
  return 'id' in message && ('result' in message || 'error' in message) && !('method' in message);
}

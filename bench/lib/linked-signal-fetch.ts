/**
 * A cheaper body hook for the driver's per-request linked signals, measured against the shipped one.
 *
 * The SDK's StreamableHTTPClientTransport passes one long-lived AbortSignal to every fetch; undici adds
 * an 'abort' listener to it per request and removes it only when the Request is garbage-collected, so a
 * busy session piled up thousands of listeners (see the memory benchmark). The driver now gives each
 * request its own signal, linked to the transport's (lib/transports/linked-fetch.ts, with
 * lib/core/signal-links.ts), and unlinks when the response body ends — by re-wrapping the body in a new
 * ReadableStream that pumps the original reader.
 *
 * This variant links the same way (the library's `linkSignal`) but sees the end of the body in the
 * `flush` of one pass-through TransformStream instead. The HTTP benchmark's client-CPU breakdown compares
 * the two. (A body that errors or is cancelled keeps its link here until the transport's signal aborts,
 * i.e. until the session is closed; the shipped version also unlinks on those.)
 */
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { linkSignal } from '../../lib/util/signal-links';

export function transformLinkedFetch(base: FetchLike = (url, init) => fetch(url, init)): FetchLike {
  return async (url, init) => {
    const outer = init?.signal;
    if (!outer || outer.aborted) return base(url, init);
    const { controller, unlink } = linkSignal(outer);
    let res: Response;
    try {
      res = await base(url, { ...init, signal: controller.signal });
    } catch (error) {
      unlink();
      throw error;
    }
    if (!res.body) {
      unlink();
      return res;
    }
    const body = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: unlink }));
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

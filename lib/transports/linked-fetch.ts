import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { linkSignal } from '../util/signal-links';

/**
 * Gives each HTTP request its own AbortSignal, linked to the transport's.
 *
 * The SDK's Streamable HTTP transport passes one long-lived AbortSignal (its own controller's) to every
 * fetch, and undici adds an 'abort' listener to it per request that goes only when the Request is garbage
 * collected: a busy session collects thousands (measured in bench/memory: up to 2 450 on one signal, and
 * MaxListenersExceededWarning). Here the transport's signal keeps one listener (signal-links.ts) that
 * aborts every request in flight, so `close()` still cancels them all; a request unlinks when its response
 * body ends, errors or is cancelled.
 */
export function linkedSignalFetch(base: FetchLike): FetchLike {
  return async (url, init) => {
    const outer = init?.signal;
    if (!outer || outer.aborted) return base(url, init);
    const { controller, unlink } = linkSignal(outer);
    let response: Response;
    try {
      response = await base(url, { ...init, signal: controller.signal });
    } catch (error) {
      unlink();
      throw error;
    }
    if (!response.body) {
      unlink();
      return response;
    }
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(stream) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            unlink();
            stream.close();
          } else stream.enqueue(value);
        } catch (error) {
          unlink();
          stream.error(error);
        }
      },
      cancel(reason) {
        unlink();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

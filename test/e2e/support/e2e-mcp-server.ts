// The HTTP MCP fixture plus two tools the e2e specs need: `gate` (blocks until the test opens it, so a
// call can be held in flight without guessing durations) and `slow_whoami` (reports the headers of its
// own HTTP request after a pause, so that many calls overlap on shared sessions).
import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { normalizeHeaders } from '../../fixtures/demo-tools';
import { startHttpMcpServer, type HttpMcpServerOptions, type TestHttpServer } from '../../fixtures/http-mcp-server';

export interface Gate {
  /** Resolves when a `gate` call reached the server. */
  readonly entered: Promise<void>;
  /** Lets the waiting `gate` call answer. */
  open(): void;
}

export interface E2eMcpServer {
  readonly server: TestHttpServer;
  /** The gate the next `gate` call will wait at. */
  nextGate(): Gate;
  /** Most `slow_whoami` calls executing at once. */
  readonly slowPeak: number;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

const text = (t: string): CallToolResult => ({ content: [{ type: 'text', text: t }] });

/** `configureServer` is passed on to the fixture (prompts, resources… on every session's server). */
export async function startE2eMcpServer(options: Pick<HttpMcpServerOptions, 'configureServer'> = {}): Promise<E2eMcpServer> {
  let entered = deferred();
  let opened = deferred();
  let slowInFlight = 0;
  const state = { slowPeak: 0 };
  const server = await startHttpMcpServer({
    ...options,
    tools: (mcp) => {
      mcp.registerTool('gate', { description: 'Answers "gated" once the test opens the gate.' }, async (extra) => {
        entered.resolve();
        await Promise.race([opened.promise, new Promise<void>((r) => extra.signal.addEventListener('abort', () => r(), { once: true }))]);
        return text('gated');
      });
      mcp.registerTool(
        'slow_whoami',
        { description: 'Waits ms, then returns the x-request-id of its own HTTP request.', inputSchema: { ms: z.number().int().nonnegative() } },
        async ({ ms }, extra) => {
          slowInFlight++;
          state.slowPeak = Math.max(state.slowPeak, slowInFlight);
          try {
            await abortableDelay(ms, extra.signal);
          } finally {
            slowInFlight--;
          }
          const headers = normalizeHeaders(extra.requestInfo?.headers);
          return text(JSON.stringify({ requestId: headers['x-request-id'] ?? null, sessionId: extra.sessionId }));
        },
      );
    },
  });
  return {
    server,
    nextGate(): Gate {
      entered = deferred();
      opened = deferred();
      const gate = opened;
      return { entered: entered.promise, open: () => gate.resolve() };
    },
    get slowPeak() {
      return state.slowPeak;
    },
  };
}

/** The text of a tool result's first content item. */
export function textOf(result: { content: Array<{ type: string; text?: unknown }> }): string {
  const first = result.content[0];
  if (first?.type !== 'text') throw new Error(`expected text content, got ${JSON.stringify(result.content)}`);
  return first.text as string;
}

// The demo MCP server the sample starts when no other server is configured: a few tools, built with the
// MCP TypeScript SDK. The same tools are served over Streamable HTTP (demo-http-server.ts, inside the
// sample's process) and over stdio (stdio-server.ts, a child process per session).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export type DemoTransport = 'streamable_http' | 'stdio';

/** The tools every demo server has. */
export const DEMO_TOOLS = ['echo', 'add', 'sleep', 'server_info'] as const;

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/** Resolves after `ms`, or as soon as `signal` aborts (the client cancelled the call); leaves no timer behind. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A new demo server. The SDK binds a server to one transport, so each session gets its own. */
export function createDemoServer(transport: DemoTransport): McpServer {
  const server = new McpServer({ name: 'nestjs-mcp-pool-demo', version: '1.0.0' });

  server.registerTool(
    'echo',
    { description: 'Returns the text it is given.', inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } },
    async (args) => text(args.text),
  );

  server.registerTool(
    'add',
    {
      description: 'Adds two numbers; the sum comes as text and as structured content {sum}.',
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
      annotations: { readOnlyHint: true },
    },
    async ({ a, b }) => ({ ...text(String(a + b)), structuredContent: { sum: a + b } }),
  );

  server.registerTool(
    'sleep',
    {
      description:
        'Waits ms milliseconds (at most 10000), then answers "slept". Send many at once and watch GET /metrics: ' +
        'the pool opens sessions up to maxSessions, then callers wait.',
      inputSchema: { ms: z.number().int().min(0).max(10_000) },
    },
    async ({ ms }, extra) => ((await sleep(ms, extra.signal)) ? text('slept') : { ...text('cancelled'), isError: true }),
  );

  server.registerTool(
    'server_info',
    {
      description:
        'Which server answered: its transport and process id, and the x-request-id header of the MCP request ' +
        '(HTTP only: the sample forwards the x-request-id of its own incoming request).',
      outputSchema: {
        server: z.string(),
        transport: z.enum(['streamable_http', 'stdio']),
        pid: z.number().int(),
        requestId: z.string().nullable(),
      },
      annotations: { readOnlyHint: true },
    },
    async (extra) => {
      const header = extra.requestInfo?.headers['x-request-id'];
      const info = {
        server: 'nestjs-mcp-pool-demo',
        transport,
        pid: process.pid,
        requestId: (Array.isArray(header) ? header.join(', ') : header) ?? null,
      };
      return { ...text(JSON.stringify(info)), structuredContent: info };
    },
  );

  return server;
}

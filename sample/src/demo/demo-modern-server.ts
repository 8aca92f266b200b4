// The demo MCP server of the 2026-07-28 era, over Streamable HTTP on 127.0.0.1, built with the v2 server
// packages: stateless (a server instance per request, no session id) and modern-only (`legacy: 'reject'`: a
// 2025-era client gets 400 / -32022). The sample's "modern" pool reaches it with protocol 'auto'; a pool
// with protocol 'legacy' would get a McpProtocolVersionError naming the versions it supports.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';

export interface DemoModernServer {
  /** http://127.0.0.1:PORT/mcp */
  readonly url: string;
  close(): Promise<void>;
}

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

/** The demo tools (echo, add, server_info), for one request of the 2026-07-28 era. */
function createModernDemoServer(): McpServer {
  const server = new McpServer({ name: 'nestjs-mcp-pool-demo-modern', version: '1.0.0' }, { cacheHints: { 'tools/list': { ttlMs: 60_000, cacheScope: 'public' } } });
  server.registerTool('echo', { description: 'Returns the text it is given.', inputSchema: z.object({ text: z.string() }), annotations: { readOnlyHint: true } }, async (args) =>
    text(args.text),
  );
  server.registerTool(
    'add',
    {
      description: 'Adds two numbers; the sum comes as text and as structured content {sum}.',
      inputSchema: z.object({ a: z.number(), b: z.number() }),
      outputSchema: z.object({ sum: z.number() }),
      annotations: { readOnlyHint: true },
    },
    async ({ a, b }) => ({ ...text(String(a + b)), structuredContent: { sum: a + b } }),
  );
  server.registerTool(
    'server_info',
    {
      description: 'Which server answered, in which protocol era, and the x-request-id header of the MCP request.',
      outputSchema: z.object({ server: z.string(), era: z.string(), pid: z.number().int(), requestId: z.string().nullable() }),
      annotations: { readOnlyHint: true },
    },
    async (ctx) => {
      const info = { server: 'nestjs-mcp-pool-demo-modern', era: '2026-07-28', pid: process.pid, requestId: ctx.http?.req?.headers.get('x-request-id') ?? null };
      return { ...text(JSON.stringify(info)), structuredContent: info };
    },
  );
  return server;
}

/** Starts the modern demo server on 127.0.0.1 (`port` 0, the default, picks a free port). */
export async function startDemoModernServer(port = 0): Promise<DemoModernServer> {
  const handler = createMcpHandler(createModernDemoServer, { legacy: 'reject' });
  const node = toNodeHandler(handler);
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Answer only requests addressed to localhost (no DNS rebinding), at /mcp.
    const host = new URL(`http://${req.headers.host ?? ''}`).hostname;
    if ((host !== '127.0.0.1' && host !== 'localhost') || new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== '/mcp') {
      res.writeHead(host === '127.0.0.1' || host === 'localhost' ? 404 : 403).end();
      return;
    }
    void node(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    async close() {
      await handler.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

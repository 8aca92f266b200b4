// The demo MCP server over Streamable HTTP, on 127.0.0.1. Stateful, like most real servers: each
// `initialize` opens a session (an McpServer and its transport, keyed by the Mcp-Session-Id the SDK
// generates); a DELETE or close() ends it.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createDemoServer } from './demo-server';

export interface DemoHttpServer {
  /** http://127.0.0.1:PORT/mcp */
  readonly url: string;
  /** Closes every session and the listener. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Starts the demo server on 127.0.0.1 (`port` 0, the default, picks a free port). */
export async function startDemoHttpServer(port = 0): Promise<DemoHttpServer> {
  const sessions = new Map<string, { server: McpServer; transport: StreamableHTTPServerTransport }>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // A server on 127.0.0.1 without authentication answers only requests addressed to localhost, so that a web
    // page cannot reach it through DNS rebinding.
    const host = new URL(`http://${req.headers.host ?? ''}`).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost') return reply(res, 403, 'Forbidden: unexpected Host header');
    if (new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== '/mcp') return reply(res, 404, 'Not found: the MCP endpoint is /mcp');

    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId);
      if (!session) return reply(res, 404, 'Session not found');
      return session.transport.handleRequest(req, res); // POST, GET (the server's event stream) or DELETE
    }
    if (req.method !== 'POST') return reply(res, 400, 'Bad Request: Mcp-Session-Id header is required');
    const body = await readJson(req);
    if (!isInitializeRequest(body)) return reply(res, 400, 'Bad Request: Mcp-Session-Id header is required');

    const server = createDemoServer('streamable_http');
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, { server, transport }),
    });
    // Set before connect(), which chains its own handler onto this one.
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 400, `Bad Request: ${error instanceof Error ? error.message : String(error)}`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = http.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    async close() {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      await Promise.all([...sessions.values()].map(({ server }) => server.close()));
      http.closeAllConnections();
      await closed;
    },
  };
}

// Resumption and reconnection of SSE streams, on both HTTP clients, against a real HTTP server that speaks just enough
// Streamable HTTP to script it: the tools/call response stream sends a priming event (an id and a retry
// field) and ends; the client must come back with a GET carrying Last-Event-ID, where the response waits.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpPool } from '../../lib';
import { until } from '../support/pids';

interface Scripted {
  url: URL;
  /** GET requests: the Last-Event-ID each carried. */
  gets: Array<string | undefined>;
  /** tools/list requests received. */
  toolLists: number;
  close(): Promise<void>;
}

/**
 * `standalone`: what a GET without Last-Event-ID gets. 'none': 405 (no stream offered). 'reconnect': the first
 * one a retry field and the end of the stream; the next one a tools/list_changed notification, then it stays open.
 */
async function scriptedServer(standalone: 'none' | 'reconnect' = 'none'): Promise<Scripted> {
  const gets: Array<string | undefined> = [];
  let toolLists = 0;
  const open = new Set<ServerResponse>();
  let pendingResponse: string | undefined;
  const json = (res: ServerResponse, body: unknown) =>
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's-1' }).end(JSON.stringify(body));
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: number; method: string };
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'DELETE') return res.writeHead(200).end();
      if (req.method === 'GET') {
        const last = req.headers['last-event-id'] as string | undefined;
        gets.push(last);
        if (!last && standalone === 'reconnect') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          if (gets.filter((g) => g === undefined).length === 1) return res.end('retry: 50\n\n');
          open.add(res);
          return res.write('data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n');
        }
        // The standalone stream (no Last-Event-ID) is not offered; a resumption gets the response it missed.
        if (!last || !pendingResponse) return res.writeHead(405).end();
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return res.end(`id: e-2\ndata: ${pendingResponse}\n\n`);
      }
      const msg = await read(req);
      if (msg.id === undefined) return res.writeHead(202).end();
      if (msg.method === 'initialize') {
        return json(res, { jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: { listChanged: true } }, serverInfo: { name: 'scripted', version: '1' } } });
      }
      if (msg.method === 'tools/list') {
        toolLists++;
        return json(res, { jsonrpc: '2.0', id: msg.id, result: { tools: [{ name: 'echo', inputSchema: { type: 'object' } }] } });
      }
      // tools/call: prime the stream, then end it before the response.
      pendingResponse = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: 'resumed' }] } });
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 's-1' });
      res.end('id: e-1\nretry: 50\ndata:\n\n');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`),
    gets,
    get toolLists() {
      return toolLists;
    },
    close: () =>
      new Promise((resolve) => {
        for (const r of open) r.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(['native', 'sdk'] as const)("httpClient '%s'", (httpClient) => {
  // The deadline is under the default reconnection delay (1 s): the call only succeeds if the server's retry (50 ms) is used.
  it("resumes a primed POST stream that ended early, after the server's retry, with a GET carrying Last-Event-ID, and gets the response there", async () => {
    const server = await scriptedServer();
    const pool = new McpPool({ name: 'resume', endpoint: server.url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0, httpClient, callTimeoutMs: 900 });
    try {
      await pool.start();
      expect(await pool.callTool('echo', {})).toMatchObject({ content: [{ type: 'text', text: 'resumed' }] });
      expect(server.gets).toContain('e-1');
    } finally {
      await pool.shutdown();
      await server.close();
    }
  });

  it('reconnects the standalone GET stream the server ended, after its retry, and hears the notification sent on the new one', async () => {
    const server = await scriptedServer('reconnect');
    const pool = new McpPool({ name: 'reconnect', endpoint: server.url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0, httpClient, toolCacheTtlMs: 600_000 });
    try {
      await pool.start();
      await pool.listTools(); // from the cache the session's warm-up filled
      expect(server.toolLists).toBe(1);
      await until(() => server.gets.filter((g) => g === undefined).length >= 2, 3000, 'the GET stream to be reopened');
      // list_changed arrived on the reopened stream: the cache was dropped, and the next listTools asks again.
      for (let i = 0; i < 300 && server.toolLists < 2; i++) {
        await new Promise((r) => setTimeout(r, 10));
        await pool.listTools();
      }
      expect(server.toolLists).toBe(2);
    } finally {
      await pool.shutdown();
      await server.close();
    }
  });
});

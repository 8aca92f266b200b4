/**
 * Child process: the test fixtures' Streamable HTTP MCP server (the SDK's McpServer, one per session) on
 * 127.0.0.1, run apart from the benchmark client so that the two do not share an event loop.
 */
import { serveRpc } from '../lib/child';
import { startHttpMcpServer } from '../../test/fixtures/http-mcp-server';

export interface HttpServerReady {
  port: number;
  url: string;
  pid: number;
}

export interface HttpServerStats {
  httpRequests: number;
  tcpConnections: number;
  initializeCount: number;
  sessionsOpened: number;
  sessionsClosed: number;
  activeSessions: number;
  toolCalls: number;
  rssBytes: number;
  /** CPU time of the server process so far (user + system), µs. */
  cpuMicros: number;
}

async function main(): Promise<void> {
  // `--json`: plain JSON responses (the SDK's enableJsonResponse) instead of an SSE stream per POST.
  const server = await startHttpMcpServer({ enableJsonResponse: process.argv.includes('--json') });
  serveRpc(
    {
      stats: (): HttpServerStats => ({
        httpRequests: server.stats.httpRequests,
        tcpConnections: server.stats.tcpConnections,
        initializeCount: server.stats.initializeCount,
        sessionsOpened: server.stats.sessionsOpened,
        sessionsClosed: server.stats.sessionsClosed,
        activeSessions: server.activeSessions(),
        toolCalls: server.recorder.count(),
        rssBytes: process.memoryUsage().rss,
        cpuMicros: ((u) => u.user + u.system)(process.cpuUsage()),
      }),
      // The fixture's recorder keeps a log of every call: reset it between measurements so it stays small.
      reset: () => server.resetStats(),
    },
    () => server.close(),
    { port: server.port, url: server.url.href, pid: process.pid } satisfies HttpServerReady,
  );
}

void main();

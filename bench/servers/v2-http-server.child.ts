/**
 * Child process: the test fixtures' v2 MCP server (2026-07-28 only, or dual-era) on 127.0.0.1, run apart
 * from the benchmark client so that the two do not share an event loop. `MCP_V2_ERA`: modern (default) or dual.
 */
import { serveRpc } from '../lib/child';
import { startV2HttpServer } from '../../test/fixtures/v2-http-server';

export interface V2ServerReady {
  url: string;
  pid: number;
}

async function main(): Promise<void> {
  const server = await startV2HttpServer({ era: process.env.MCP_V2_ERA === 'dual' ? 'dual' : 'modern' });
  serveRpc(
    {
      stats: () => ({
        httpRequests: server.stats.httpRequests,
        tcpConnections: server.stats.tcpConnections,
        discover: server.stats.requestsByMethod['server/discover'] ?? 0,
        cpuMicros: ((u) => u.user + u.system)(process.cpuUsage()),
      }),
    },
    () => server.close(),
    { url: server.url.href, pid: process.pid } satisfies V2ServerReady,
  );
}

void main();

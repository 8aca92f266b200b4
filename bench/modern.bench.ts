/**
 * The 2026-07-28 era: per-call cost of `tools/call echo` on a 2026-07-28-only server (v2 createMcpHandler,
 * in its own process), 1 and 16 callers:
 * - a new v2 client per call (probe with server/discover, list the tools, call, close): what a stateless
 *   client without a pool pays;
 * - one bare shared v2 client, every caller on it at once: the ceiling;
 * - the pool, protocol 'auto' (one probe per endpoint, then connect({ prior })), maxConcurrentPerSession 16.
 * Also: what `'auto'` costs a new session once the verdict is cached (connect + first call), against 'modern'.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { join } from 'node:path';
import { McpPool } from '../lib';
import { ChildHandle } from './lib/child';
import { closedLoop, fmt, median, quantile, table } from './lib/stats';
import type { BenchContext, BenchResult, Benchmark } from './lib/types';
import type { V2ServerReady } from './servers/v2-http-server.child';

const ECHO = { name: 'echo', arguments: { text: 'hello' } };
const INFO = { name: 'bench', version: '1.0.0' };

async function connectV2(url: URL): Promise<Client> {
  const client = new Client(INFO, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const server = await ChildHandle.start<V2ServerReady>(join(__dirname, 'servers', 'v2-http-server.child.ts'));
  const url = new URL(server.ready.url);
  const windowMs = ctx.quick ? 1500 : 5000;
  const rows: Array<Array<string | number>> = [];
  try {
    const shared = await connectV2(url);
    await shared.listTools();
    const pool = new McpPool({ name: 'bench-modern', endpoint: url, protocol: 'auto', minSessions: 1, maxSessions: 2, maxConcurrentPerSession: 16, healthCheckIntervalMs: 0 });
    await pool.start();
    const variants: Array<[string, () => Promise<unknown>]> = [
      [
        'new v2 client per call',
        async () => {
          const c = await connectV2(url);
          try {
            await c.listTools();
            await c.callTool(ECHO);
          } finally {
            await c.close();
          }
        },
      ],
      ['bare shared v2 client (ceiling)', () => shared.callTool(ECHO)],
      ["pool, protocol 'auto'", () => pool.callTool('echo', ECHO.arguments)],
    ];
    for (const [label, op] of variants) {
      const cells: Array<string | number> = [label];
      for (const callers of [1, 16]) {
        ctx.log(`modern: ${label}, ${callers} callers`);
        await closedLoop(callers, 300, op); // warm-up
        const r = await closedLoop(callers, windowMs, op, { minOps: 20 });
        cells.push(fmt(r.opsPerSec), fmt(quantile(r.latenciesMs.view(), 0.5)), fmt(quantile(r.latenciesMs.view(), 0.99)));
      }
      rows.push(cells);
    }
    await pool.shutdown();
    await shared.close();

    // A new session once the verdict is cached: connect ({ prior }) and the tools listing the pool does.
    const creations: Array<Array<string | number>> = [];
    for (const protocol of ['auto', 'modern'] as const) {
      const samples: number[] = [];
      for (let i = 0; i < (ctx.quick ? 5 : 20); i++) {
        const p = new McpPool({ name: `bench-create-${protocol}`, endpoint: url, protocol, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0 });
        const t0 = performance.now();
        await p.start();
        samples.push(performance.now() - t0);
        await p.shutdown();
      }
      creations.push([`'${protocol}'`, fmt(median(samples)), fmt(samples[0]!)]);
    }
    const stats = await server.call<{ discover: number }>('stats');
    const markdown = [
      table(['variant', '1 caller: calls/s', 'p50 ms', 'p99 ms', '16 callers: calls/s', 'p50 ms', 'p99 ms'], rows),
      '',
      'A new pool (one session: connect + tools/list), 2026-07-28 server, the era verdict of the endpoint cached after the first:',
      '',
      table(['protocol', 'median ms', 'first ms'], creations),
      '',
      `server/discover requests the server saw in the whole run: ${stats.discover} (the per-call clients probe every time; the pools once per endpoint and identity).`,
    ].join('\n');
    return { markdown, goals: [] };
  } finally {
    await server.close();
  }
}

const bench: Benchmark = { name: 'modern', title: 'The 2026-07-28 era: pool vs bare v2 client vs a client per call', run };
export default bench;

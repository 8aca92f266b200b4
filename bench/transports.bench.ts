/**
 * 7. HTTP clients side by side: what the pool's native Streamable HTTP transport (lib/transports/native-http)
 * buys over the SDK's `StreamableHTTPClientTransport`, and how far either is from the floor.
 *
 * Variants, all calling the `echo` tool on the fixture's SDK McpServer (its own process), SSE and JSON servers:
 * - bare SDK client, shared: one `Client` on the SDK transport, every caller on it at once;
 * - bare SDK clients ×4: four of them, callers spread round robin;
 * - pool on the SDK transport (`httpClient: 'sdk'`) and on the native one (`'native'`): one session,
 *   `maxConcurrentPerSession` 64, so the pool's own work is what differs from the shared client;
 * - raw undici floor: one session opened by hand, each call one `undici.Pool` POST and a `JSON.parse` of the
 *   response (no MCP client, no validation): what any client must at least spend.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { McpPool } from '../lib';
import { loadUndici } from '../lib/transports/native-http/undici-loader';
import { ChildHandle } from './lib/child';
import { Samples, closedLoop, fmt, goalsSection, median, ms, pct, quantile, table, times } from './lib/stats';
import type { BenchContext, BenchResult, Benchmark, GoalRow } from './lib/types';
import type { HttpServerReady, HttpServerStats } from './servers/http-server.child';

const CLIENT_INFO = { name: 'bench', version: '1.0.0' };
const ECHO = { name: 'echo', arguments: { text: 'hello' } };
const K = 4;

interface Variant {
  key: string;
  label: string;
  op: () => Promise<unknown>;
  teardown: () => Promise<void>;
}

interface Run {
  opsPerSec: number;
  clientCpuUs: number;
  serverCpuUs: number;
  errors: number;
}

async function sdkClient(url: URL): Promise<{ client: Client; close: () => Promise<void> }> {
  const client = new Client(CLIENT_INFO);
  const transport = new StreamableHTTPClientTransport(url);
  await client.connect(transport);
  await client.listTools();
  return {
    client,
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/** One session opened by hand; each call one POST and a JSON.parse of its (SSE or JSON) response. */
async function rawFloor(url: URL): Promise<Variant> {
  const pool: Dispatcher = new (loadUndici().Pool)(url.origin, { headersTimeout: 0, bodyTimeout: 0 });
  const path = url.pathname;
  const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await pool.request({
    path,
    method: 'POST',
    headers: base,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: CLIENT_INFO } }),
  });
  const sessionId = String(init.headers['mcp-session-id']);
  await init.body.text();
  const headers = { ...base, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
  const note = await pool.request({ path, method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  await note.body.dump();
  let id = 1;
  return {
    key: 'raw',
    label: 'raw undici floor (POST + JSON.parse)',
    op: async () => {
      const res = await pool.request({ path, method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: ECHO }) });
      const text = await res.body.text();
      const start = text.indexOf('data: ');
      const msg = JSON.parse(start === -1 ? text : text.slice(start + 6, text.indexOf('\n', start))) as { result?: unknown };
      if (!msg.result) throw new Error('no result');
      return msg;
    },
    teardown: async () => {
      const res = await pool.request({ path, method: 'DELETE', headers });
      await res.body.dump();
      await pool.close();
    },
  };
}

async function makeVariants(url: URL): Promise<Variant[]> {
  const shared = await sdkClient(url);
  const many = await Promise.all(Array.from({ length: K }, () => sdkClient(url)));
  let next = 0;
  const pool = async (httpClient: 'sdk' | 'native'): Promise<Variant> => {
    const p = new McpPool({ name: `bench-${httpClient}`, endpoint: url, minSessions: 1, maxSessions: 1, maxConcurrentPerSession: 64, httpClient });
    await p.start();
    return {
      key: `pool-${httpClient}`,
      label: `pool, httpClient '${httpClient}' (1 session)`,
      op: () => p.callTool('echo', ECHO.arguments),
      teardown: () => p.shutdown(),
    };
  };
  return [
    { key: 'shared', label: 'bare SDK client, shared', op: () => shared.client.callTool(ECHO), teardown: shared.close },
    {
      key: 'k-clients',
      label: `bare SDK clients ×${K} (round robin)`,
      op: () => many[next++ % K]!.client.callTool(ECHO),
      teardown: async () => {
        for (const c of many) await c.close();
      },
    },
    await pool('sdk'),
    await pool('native'),
    await rawFloor(url),
  ];
}

/** Heap after many calls through a warm pool on the native transport (SSE, loopback, 64 callers). */
async function heapCheck(ctx: BenchContext, url: URL, total: number): Promise<{ rows: Array<Array<string | number>>; perThousand: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = () => {
    gc?.();
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  const p = new McpPool({ name: 'heap', endpoint: url, minSessions: 1, maxSessions: 1, maxConcurrentPerSession: 64, healthCheckIntervalMs: 0 });
  await p.start();
  const rows: Array<Array<string | number>> = [];
  let done = 0;
  const runTo = async (target: number) => {
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (done < target) {
          done++;
          await p.callTool('echo', ECHO.arguments);
        }
      }),
    );
  };
  try {
    await runTo(total / 10);
    const h0 = heap();
    rows.push([fmt(done), `${(h0 / 2 ** 20).toFixed(1)} MiB`]);
    for (const f of [0.4, 0.7, 1]) {
      ctx.log(`transports: heap, ${fmt(total * f)} calls`);
      await runTo(total * f);
      rows.push([fmt(done), `${(heap() / 2 ** 20).toFixed(1)} MiB`]);
    }
    const h1 = heap();
    return { rows, perThousand: ((h1 - h0) / (done - total / 10)) * 1000 };
  } finally {
    await p.shutdown();
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const quick = ctx.quick;
  const latencies = quick ? [0] : [0, 5, 25];
  const concurrencies = [1, 16, 64];
  const runsAt = (lat: number) => (quick ? 1 : lat === 0 ? 3 : 1);
  const warmMs = quick ? 100 : 300;
  const measureMs = quick ? 300 : 1000;
  const minOps = quick ? 3 : 8;

  const servers = {
    SSE: await ChildHandle.start<HttpServerReady>(join(__dirname, 'servers/http-server.child.ts')),
    JSON: await ChildHandle.start<HttpServerReady>(join(__dirname, 'servers/http-server.child.ts'), ['--json']),
  };
  const proxy = await ChildHandle.start<{ pid: number }>(join(__dirname, 'servers/delay-proxy.child.ts'));
  const cells = new Map<string, { runs: Run[]; latencies: Samples }>();
  const cellOf = (kind: string, lat: number, conc: number, v: string) => {
    const k = `${kind}/${lat}/${conc}/${v}`;
    let c = cells.get(k);
    if (!c) cells.set(k, (c = { runs: [], latencies: new Samples() }));
    return c;
  };
  const ratios = new Map<string, number[]>();
  const pushRatio = (k: string, x: number) => (ratios.get(k) ?? ratios.set(k, []).get(k)!).push(x);
  const labels = new Map<string, string>();
  let heap: Awaited<ReturnType<typeof heapCheck>> | undefined;
  try {
    for (const [kind, server] of Object.entries(servers)) {
      for (const lat of latencies) {
        const url =
          lat === 0
            ? new URL(server.ready.url)
            : new URL(`http://127.0.0.1:${await proxy.call<number>('open', { targetPort: server.ready.port, oneWayDelayMs: lat })}/mcp`);
        const variants = await makeVariants(url);
        for (const v of variants) labels.set(v.key, v.label);
        try {
          ctx.log(`transports: ${kind} ${lat} ms, warm-up`);
          for (const v of variants) await closedLoop(16, lat === 0 ? (quick ? 300 : 1500) : 300, v.op, { minOps: 16 });
          for (let r = 0; r < runsAt(lat); r++) {
            for (const conc of concurrencies) {
              ctx.log(`transports: ${kind} ${lat} ms, run ${r + 1}/${runsAt(lat)}, concurrency ${conc}`);
              const thisRun = new Map<string, number>();
              for (let i = 0; i < variants.length; i++) {
                const v = variants[(i + r) % variants.length]!;
                await closedLoop(conc, warmMs, v.op, { minOps: Math.min(conc, minOps) });
                await server.call('reset');
                const before = await server.call<HttpServerStats>('stats');
                const cpu0 = process.cpuUsage();
                const res = await closedLoop(conc, measureMs, v.op, { minOps, maxMs: measureMs * 5 });
                const cpu = process.cpuUsage(cpu0);
                const after = await server.call<HttpServerStats>('stats');
                if (res.errors > 0) ctx.log(`  ${v.key}: ${res.errors} errors, first: ${String(res.firstError)}`);
                const cell = cellOf(kind, lat, conc, v.key);
                cell.runs.push({
                  opsPerSec: res.opsPerSec,
                  clientCpuUs: (cpu.user + cpu.system) / Math.max(1, res.ops),
                  serverCpuUs: (after.cpuMicros - before.cpuMicros) / Math.max(1, res.ops),
                  errors: res.errors,
                });
                cell.latencies.pushAll(res.latenciesMs);
                thisRun.set(v.key, res.opsPerSec);
              }
              for (const v of variants) {
                pushRatio(`${kind}/${lat}/${conc}/${v.key}/shared`, thisRun.get(v.key)! / thisRun.get('shared')!);
                pushRatio(`${kind}/${lat}/${conc}/${v.key}/raw`, thisRun.get(v.key)! / thisRun.get('raw')!);
              }
            }
          }
        } finally {
          for (const v of variants) await v.teardown().catch((e: unknown) => ctx.log(`teardown ${v.key}: ${String(e)}`));
        }
      }
    }
    heap = await heapCheck(ctx, new URL(servers.SSE.ready.url), quick ? 20_000 : 300_000);
  } finally {
    await proxy.close();
    await servers.SSE.close();
    await servers.JSON.close();
  }

  const ratio = (kind: string, lat: number, conc: number, v: string, vs: 'shared' | 'raw') => median(ratios.get(`${kind}/${lat}/${conc}/${v}/${vs}`) ?? []);
  const keys = ['shared', 'k-clients', 'pool-sdk', 'pool-native', 'raw'];
  const out: string[] = [
    `Closed loop, as in benchmark 1. At 0 ms: ${runsAt(0)} interleaved run(s) per cell of ${measureMs} ms after a ${warmMs} ms warm-up; ` +
      `at 5 and 25 ms one way (TCP delay proxy): ${runsAt(5)} run. Ratios are taken run by run (median shown). "client CPU/call": ` +
      `user + system CPU time of the benchmark process per call; "server CPU/call": the same for the server process.`,
    '',
  ];
  for (const kind of Object.keys(servers)) {
    for (const lat of latencies) {
      out.push(`### ${kind} responses, ${lat === 0 ? 'loopback' : `${lat} ms one way`}`, '');
      const rows: Array<Array<string | number>> = [];
      for (const conc of concurrencies) {
        for (const k of keys) {
          const c = cellOf(kind, lat, conc, k);
          const tput = c.runs.map((x) => x.opsPerSec);
          const errors = c.runs.reduce((s, x) => s + x.errors, 0);
          rows.push([
            labels.get(k)! + (errors ? ` (${errors} errors)` : ''),
            conc,
            fmt(median(tput)),
            ms(quantile(c.latencies.view(), 0.5)),
            ms(quantile(c.latencies.view(), 0.99)),
            times(ratio(kind, lat, conc, k, 'shared')),
            pct(ratio(kind, lat, conc, k, 'raw')),
            `${fmt(median(c.runs.map((x) => x.clientCpuUs)))} µs`,
            `${fmt(median(c.runs.map((x) => x.serverCpuUs)))} µs`,
          ]);
        }
      }
      out.push(table(['client', 'callers', 'calls/s', 'p50', 'p99', 'vs bare shared', 'of raw floor', 'client CPU/call', 'server CPU/call'], rows), '');
    }
  }

  if (heap) {
    out.push(
      '### Heap through the native transport',
      '',
      'One warm session, 64 callers, SSE, loopback; heap used after two forced GCs (the benchmark process runs with --expose-gc).',
      '',
      table(['calls so far', 'heap used'], heap.rows),
      '',
    );
  }

  const goals: GoalRow[] = [];
  if (heap) {
    goals.push({ goal: 'heap growth per 1 000 calls through the native transport', target: 'flat (< 1 KiB)', measured: `${fmt(heap.perThousand)} B`, met: heap.perThousand < 1024 });
  }
  const r16 = ratio('SSE', 0, 16, 'pool-native', 'shared');
  goals.push({ goal: 'SSE, loopback, 16 callers: pool on native vs one bare shared SDK client', target: '≥ 2×', measured: times(r16), met: r16 >= 2 });
  const f16 = ratio('SSE', 0, 16, 'pool-native', 'raw');
  goals.push({ goal: 'SSE, loopback, 16 callers: pool on native vs the raw undici floor', target: '≥ 90%', measured: pct(f16), met: f16 >= 0.9 });
  const cpu16 = median(cellOf('SSE', 0, 16, 'pool-native').runs.map((x) => x.clientCpuUs));
  goals.push({ goal: 'SSE, loopback, 16 callers: client CPU per call, pool on native', target: '≤ 150 µs', measured: `${fmt(cpu16)} µs`, met: cpu16 <= 150 });
  const p50 = quantile(cellOf('SSE', 0, 1, 'pool-native').latencies.view(), 0.5);
  goals.push({ goal: 'SSE, loopback, 1 caller: p50 of the pool on native', target: '≤ 0.6 ms', measured: ms(p50), met: p50 <= 0.6 });
  let worst = Infinity;
  let worstCell = '';
  for (const kind of Object.keys(servers))
    for (const lat of latencies)
      for (const conc of concurrencies) {
        const r = ratio(kind, lat, conc, 'pool-native', 'shared');
        if (r < worst) [worst, worstCell] = [r, `${kind} ${lat} ms, ${conc} callers`];
      }
  goals.push({ goal: 'every cell: pool on native vs the bare shared SDK client (worst cell)', target: '≥ 1×', measured: `${times(worst)} (${worstCell})`, met: worst >= 1 });
  out.push(...goalsSection(goals));
  return { markdown: out.join('\n'), goals };
}

const bench: Benchmark = { name: 'transports', title: '7. HTTP clients side by side: SDK transport, native transport, raw floor', run };
export default bench;

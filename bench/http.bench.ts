/**
 * 1. End to end over Streamable HTTP on loopback, against the SDK's McpServer (the test fixture server,
 * in its own process), directly (0 ms) and through a delay proxy (5 ms and 25 ms one way).
 *
 * Variants, all calling the `echo` tool:
 * - session per call: new Client, connect (initialize + initialized), tools/list, tools/call, DELETE, close;
 * - shared client: one SDK Client, every caller on it at once: the ceiling;
 * - generic-pool: generic-pool wrapping SDK clients (exclusive borrow), what one would write by hand;
 * - our pool, maxConcurrentPerSession 1 (maxSessions 64) and 8 (maxSessions 8), on its default HTTP client
 *   (the native transport; bench/transports.bench.ts sets the SDK transport beside it).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as genericPool from 'generic-pool';
import { join } from 'node:path';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { McpPool } from '../lib';
import { linkedSignalFetch } from '../lib/transports/linked-fetch';
import { LostResponseWatch } from '../lib/transports/lost-response-watch';
import { transformLinkedFetch } from './lib/linked-signal-fetch';
import { ChildHandle } from './lib/child';
import { Samples, closedLoop, fmt, median, ms, pct, quantile, table, times, goalsSection } from './lib/stats';
import type { BenchContext, BenchResult, Benchmark, GoalRow } from './lib/types';
import type { HttpServerReady, HttpServerStats } from './servers/http-server.child';

const CLIENT_INFO = { name: 'bench', version: '1.0.0' };
const ECHO = { name: 'echo', arguments: { text: 'hello' } };

interface Variant {
  key: string;
  label: string;
  op: () => Promise<unknown>;
  teardown: () => Promise<void>;
}

interface Run {
  opsPerSec: number;
  /** CPU time per call of this (client) process and of the server process, µs. */
  clientCpuUs: number;
  serverCpuUs: number;
  /** MaxListenersExceededWarning events while this cell ran. */
  listenerWarnings: number;
  httpPerCall: number;
  tcpPerCall: number;
  errors: number;
}

interface Cell {
  runs: Run[];
  latencies: Samples;
}

const OURS = ['ours-1', 'ours-8'] as const;

async function makeVariants(url: URL): Promise<Variant[]> {
  const sessionPerCall: Variant = {
    key: 'per-call',
    label: 'session per call',
    op: async () => {
      const client = new Client(CLIENT_INFO);
      const transport = new StreamableHTTPClientTransport(url);
      try {
        await client.connect(transport);
        await client.listTools();
        await client.callTool(ECHO);
        await transport.terminateSession();
      } finally {
        await client.close();
      }
    },
    teardown: async () => undefined,
  };

  const shared = new Client(CLIENT_INFO);
  const sharedTransport = new StreamableHTTPClientTransport(url);
  await shared.connect(sharedTransport);
  await shared.listTools();
  const sharedClient: Variant = {
    key: 'shared',
    label: 'shared SDK client (ceiling)',
    op: () => shared.callTool(ECHO),
    teardown: async () => {
      await sharedTransport.terminateSession().catch(() => undefined);
      await shared.close();
    },
  };

  const transports = new WeakMap<Client, StreamableHTTPClientTransport>();
  const gp = genericPool.createPool<Client>(
    {
      create: async () => {
        const client = new Client(CLIENT_INFO);
        const transport = new StreamableHTTPClientTransport(url);
        await client.connect(transport);
        transports.set(client, transport);
        return client;
      },
      destroy: async (client) => {
        await transports.get(client)?.terminateSession().catch(() => undefined);
        await client.close();
      },
    },
    { max: 64, min: 1 },
  );
  const genericPoolVariant: Variant = {
    key: 'generic-pool',
    label: 'generic-pool of SDK clients (max 64)',
    op: () => gp.use((c) => c.callTool(ECHO)),
    teardown: async () => {
      await gp.drain();
      await gp.clear();
    },
  };

  const ours = async (mcps: number, maxSessions: number, key: string): Promise<Variant> => {
    const pool = new McpPool({ name: key, endpoint: url, minSessions: 1, maxSessions, maxConcurrentPerSession: mcps });
    await pool.start();
    return {
      key,
      label: `our pool, maxConcurrentPerSession ${mcps} (maxSessions ${maxSessions})`,
      op: () => pool.callTool('echo', ECHO.arguments),
      teardown: () => pool.shutdown(),
    };
  };

  return [sessionPerCall, sharedClient, genericPoolVariant, await ours(1, 64, 'ours-1'), await ours(8, 8, 'ours-8')];
}

/**
 * Where the client's CPU goes: one session, 16 callers, loopback. The SDK client alone, the SDK client
 * with each fetch wrapper the driver adds (or that is proposed), and the pool on one session. CPU time
 * per call is steady even when other processes share the machine, unlike calls/s.
 */
async function clientCpuBreakdown(ctx: BenchContext, url: URL, out: string[]): Promise<void> {
  const runs = ctx.quick ? 1 : 5;
  const measureMs = ctx.quick ? 300 : 1000;
  const plain: FetchLike = (u, init) => fetch(u, init);
  const sdkClient = async (label: string, wrap?: (base: FetchLike) => { fetch: FetchLike; attach?: (t: StreamableHTTPClientTransport) => void }) => {
    const w = wrap?.(plain);
    const client = new Client(CLIENT_INFO);
    const transport = new StreamableHTTPClientTransport(url, w ? { fetch: w.fetch } : undefined);
    await client.connect(transport);
    w?.attach?.(transport);
    await client.listTools();
    return {
      label,
      op: () => client.callTool(ECHO),
      close: async () => {
        await transport.terminateSession().catch(() => undefined);
        await client.close();
      },
    };
  };
  const pool = async (label: string, httpClient: 'native' | 'sdk') => {
    const p = new McpPool({ name: 'breakdown', endpoint: url, minSessions: 1, maxSessions: 1, maxConcurrentPerSession: 16, httpClient });
    await p.start();
    return { label, op: () => p.callTool('echo', ECHO.arguments), close: () => p.shutdown() };
  };
  const variants = [
    await sdkClient('SDK client, global fetch (the ceiling)'),
    await sdkClient('SDK client + `LostResponseWatch.wrapFetch` (lib/transports/lost-response-watch.ts)', (base) => {
      const watch = new LostResponseWatch();
      return { fetch: watch.wrapFetch(base), attach: (t) => watch.attach(t) };
    }),
    await sdkClient('SDK client + `linkedSignalFetch` (lib/transports/linked-fetch.ts: body re-wrapped in a ReadableStream)', (base) => ({
      fetch: linkedSignalFetch(base),
    })),
    await sdkClient('SDK client + the same link, body end seen by one TransformStream (bench/lib/linked-signal-fetch.ts)', (base) => ({
      fetch: transformLinkedFetch(base),
    })),
    await pool("our pool, 1 session, maxConcurrentPerSession 16, httpClient 'sdk' (driver: both wrappers above + header context)", 'sdk'),
    await pool("our pool, 1 session, maxConcurrentPerSession 16, httpClient 'native' (lib/transports/native-http: no fetch, no web streams)", 'native'),
  ];
  const cpu = new Map<string, number[]>();
  const tput = new Map<string, number[]>();
  try {
    for (const v of variants) await closedLoop(16, measureMs, v.op);
    for (let r = 0; r < runs; r++) {
      ctx.log(`http: client CPU breakdown, run ${r + 1}/${runs}`);
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + r) % variants.length]!;
        const c0 = process.cpuUsage();
        const res = await closedLoop(16, measureMs, v.op);
        const c = process.cpuUsage(c0);
        (cpu.get(v.label) ?? cpu.set(v.label, []).get(v.label)!).push((c.user + c.system) / Math.max(1, res.ops));
        (tput.get(v.label) ?? tput.set(v.label, []).get(v.label)!).push(res.opsPerSec);
      }
    }
  } finally {
    for (const v of variants) await v.close();
  }
  const base = median(cpu.get(variants[0]!.label)!);
  out.push(
    '### Where the client\'s CPU goes (loopback, one session, 16 callers)',
    '',
    `On this machine the SDK client, not the server, is the busier side of an HTTP call, so what the client adds per call ` +
      `decides the throughput once the CPU is saturated. On the SDK transport (httpClient 'sdk') the HTTP driver wraps the SDK's fetch twice: LostResponseWatch ` +
      `(fails a request at once when its SSE stream ends without a response) and linkedSignalFetch (per-request abort ` +
      `signals); each re-wraps every response body in web streams. Client CPU time (user + system of this process) per ` +
      `call, median of ${runs} interleaved run(s) of ${measureMs} ms. calls/s are shown but are noisier than CPU time.`,
    '',
    table(
      ['client', 'client CPU/call', 'vs SDK client alone', 'calls/s'],
      variants.map((v) => {
        const c = median(cpu.get(v.label)!);
        return [v.label, `${fmt(c)} µs`, v === variants[0] ? '—' : `${c >= base ? '+' : ''}${fmt(c - base)} µs (${pct(c / base - 1)})`, fmt(median(tput.get(v.label)!))];
      }),
    ),
    '',
  );
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const quick = ctx.quick;
  const latencies = quick ? [0, 25] : [0, 5, 25];
  const concurrencies = [1, 16, 64];
  const runs = quick ? 1 : 3;
  const warmMs = quick ? 100 : 300;
  const measureMs = quick ? 300 : 1000;
  const minOps = quick ? 3 : 8;
  const globalWarmMs = quick ? 300 : 1500;

  let listenerWarnings = 0;
  const onWarning = (w: Error) => {
    if (w.name === 'MaxListenersExceededWarning') listenerWarnings++;
  };
  process.on('warning', onWarning);
  const server = await ChildHandle.start<HttpServerReady>(join(__dirname, 'servers/http-server.child.ts'));
  const proxy = await ChildHandle.start<{ pid: number }>(join(__dirname, 'servers/delay-proxy.child.ts'));
  const cells = new Map<string, Cell>();
  const cellOf = (lat: number, conc: number, v: string): Cell => {
    const k = `${lat}/${conc}/${v}`;
    let c = cells.get(k);
    if (!c) cells.set(k, (c = { runs: [], latencies: new Samples() }));
    return c;
  };
  const labels = new Map<string, string>();
  const breakdownOut: string[] = [];
  const ratioRuns = new Map<string, number[]>(); // `${lat}/${conc}/${v}/vs-shared|vs-per-call` → per-run ratios

  try {
    for (const lat of latencies) {
      const url =
        lat === 0
          ? new URL(server.ready.url)
          : new URL(`http://127.0.0.1:${await proxy.call<number>('open', { targetPort: server.ready.port, oneWayDelayMs: lat })}/mcp`);
      const variants = await makeVariants(url);
      for (const v of variants) labels.set(v.key, v.label);
      try {
        // JIT warm-up of every code path before anything is measured (the first seconds are 2-3× slower).
        ctx.log(`http: ${lat} ms, warm-up`);
        for (const v of variants) await closedLoop(16, lat === 0 ? globalWarmMs : globalWarmMs / 2, v.op, { minOps: 16 });
        for (let r = 0; r < runs; r++) {
          for (const conc of concurrencies) {
            ctx.log(`http: ${lat} ms, run ${r + 1}/${runs}, concurrency ${conc}`);
            const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
            const thisRun = new Map<string, number>();
            for (const v of order) {
              await closedLoop(conc, warmMs, v.op, { minOps: Math.min(conc, minOps) });
              await server.call('reset');
              const before = await server.call<HttpServerStats>('stats');
              const warningsBefore = listenerWarnings;
              const cpu0 = process.cpuUsage();
              const res = await closedLoop(conc, measureMs, v.op, { minOps, maxMs: measureMs * 5 });
              const cpu = process.cpuUsage(cpu0);
              const after = await server.call<HttpServerStats>('stats');
              if (res.errors > 0) ctx.log(`  ${v.key}: ${res.errors} errors, first: ${String(res.firstError)}`);
              const cell = cellOf(lat, conc, v.key);
              cell.runs.push({
                opsPerSec: res.opsPerSec,
                httpPerCall: (after.httpRequests - before.httpRequests) / Math.max(1, res.ops),
                tcpPerCall: (after.tcpConnections - before.tcpConnections) / Math.max(1, res.ops),
                errors: res.errors,
                listenerWarnings: listenerWarnings - warningsBefore,
                clientCpuUs: (cpu.user + cpu.system) / Math.max(1, res.ops),
                serverCpuUs: (after.cpuMicros - before.cpuMicros) / Math.max(1, res.ops),
              });
              cell.latencies.pushAll(res.latenciesMs);
              thisRun.set(v.key, res.opsPerSec);
            }
            for (const v of variants) {
              const push = (k: string, x: number) => {
                const a = ratioRuns.get(k) ?? [];
                a.push(x);
                ratioRuns.set(k, a);
              };
              push(`${lat}/${conc}/${v.key}/vs-shared`, thisRun.get(v.key)! / thisRun.get('shared')!);
              push(`${lat}/${conc}/${v.key}/vs-per-call`, thisRun.get(v.key)! / thisRun.get('per-call')!);
            }
          }
        }
      } finally {
        for (const v of variants) await v.teardown().catch((e: unknown) => ctx.log(`teardown ${v.key}: ${String(e)}`));
      }
    }
    await clientCpuBreakdown(ctx, new URL(server.ready.url), breakdownOut);
  } finally {
    await proxy.close();
    await server.close();
    process.off('warning', onWarning);
  }

  // ---------------------------------------------------------------------------------------------
  // Report
  const ratio = (lat: number, conc: number, v: string, kind: 'vs-shared' | 'vs-per-call') =>
    median(ratioRuns.get(`${lat}/${conc}/${v}/${kind}`) ?? []);
  const p50 = (lat: number, conc: number, v: string) => quantile(cellOf(lat, conc, v).latencies.view(), 0.5);
  const keys = ['per-call', 'shared', 'generic-pool', ...OURS];
  const out: string[] = [];
  out.push(
    `Closed loop: each of *concurrency* callers starts its next call when the previous one returns. ${runs} run(s) per cell of ` +
      `${measureMs} ms (at least ${minOps} calls) after a ${warmMs} ms warm-up; the variants are interleaved within each run, ` +
      `so ratios are taken run by run and their median is shown. calls/s: median over runs (min–max); p50/p99: over every call ` +
      `of every run. "client CPU/call": CPU time (user + system) of the benchmark process per call; "server CPU/call": the ` +
      `same for the server process. "HTTP req/call" and "TCP conn/call" are counted by the server. Server: the fixture's SDK McpServer in a ` +
      `child process (SSE responses); latency added by a TCP delay proxy in another child process (one way, both directions, ` +
      `plus one round trip per new TCP connection). "MaxListeners warnings": MaxListenersExceededWarning events in the client ` +
      `process while the cell ran (see the memory benchmark for the cause).`,
    '',
  );
  for (const lat of latencies) {
    out.push(`### ${lat === 0 ? 'Loopback, no added latency' : `${lat} ms one way (${2 * lat} ms round trip)`}`, '');
    const rows: Array<Array<string | number>> = [];
    for (const conc of concurrencies) {
      for (const k of keys) {
        const c = cellOf(lat, conc, k);
        const tput = c.runs.map((x) => x.opsPerSec);
        const errors = c.runs.reduce((s, x) => s + x.errors, 0);
        rows.push([
          labels.get(k)! + (errors ? ` (${errors} errors)` : ''),
          conc,
          `${fmt(median(tput))} (${fmt(Math.min(...tput))}–${fmt(Math.max(...tput))})`,
          ms(quantile(c.latencies.view(), 0.5)),
          ms(quantile(c.latencies.view(), 0.99)),
          pct(ratio(lat, conc, k, 'vs-shared')),
          times(ratio(lat, conc, k, 'vs-per-call')),
          `${fmt(median(c.runs.map((x) => x.clientCpuUs)))} µs`,
          `${fmt(median(c.runs.map((x) => x.serverCpuUs)))} µs`,
          fmt(median(c.runs.map((x) => x.httpPerCall))),
          fmt(median(c.runs.map((x) => x.tcpPerCall))),
          c.runs.reduce((s, x) => s + x.listenerWarnings, 0),
        ]);
      }
    }
    out.push(
      table(['variant', 'concurrency', 'calls/s', 'p50', 'p99', 'vs ceiling', 'vs session per call', 'client CPU/call', 'server CPU/call', 'HTTP req/call', 'TCP conn/call', 'MaxListeners warnings'], rows),
      '',
    );
  }

  out.push(...breakdownOut);

  // Goals
  const goals: GoalRow[] = [];
  for (const lat of latencies) {
    for (const conc of concurrencies) {
      for (const k of OURS) {
        const r = ratio(lat, conc, k, 'vs-shared');
        goals.push({
          goal: `HTTP ${lat} ms, concurrency ${conc}: ${labels.get(k)} vs shared client`,
          target: '≥ 95% of the ceiling',
          measured: pct(r),
          met: r >= 0.95,
        });
      }
    }
  }
  for (const conc of concurrencies) {
    for (const k of OURS) {
      const r = ratio(0, conc, k, 'vs-per-call');
      goals.push({
        goal: `HTTP 0 ms, concurrency ${conc}: ${labels.get(k)} vs session per call`,
        target: '≥ 10×',
        measured: `${times(r)} (the shared client itself: ${times(ratio(0, conc, 'shared', 'vs-per-call'))})`,
        met: r >= 10,
      });
    }
  }
  const slowest = Math.max(...latencies);
  if (slowest > 0) {
    const rtt = 2 * slowest;
    for (const k of OURS) {
      const saved = (p50(slowest, 1, 'per-call') - p50(slowest, 1, k)) / rtt;
      goals.push({
        goal: `HTTP ${slowest} ms, concurrency 1: round trips saved per call, ${labels.get(k)}`,
        target: '≥ 4 round trips',
        measured: `${fmt(saved)} (p50 ${ms(p50(slowest, 1, 'per-call'))} → ${ms(p50(slowest, 1, k))}, RTT ${rtt} ms)`,
        met: saved >= 4,
      });
    }
  }
  out.push(
    ...goalsSection(goals),
  );
  return { markdown: out.join('\n'), goals };
}

const bench: Benchmark = { name: 'http', title: '1. End to end over Streamable HTTP', run };
export default bench;

/**
 * 6. Memory: the heap after many calls through a warm pool (the slope, after full GCs), memory per idle
 * HTTP session and per stdio session, and abort listeners (MaxListenersExceededWarning).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { getEventListeners, setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpPool, StdioDriver, type SessionDriver } from '../lib';
import { ChildHandle } from './lib/child';
import { bareInMemoryClient, InMemoryDriver } from './lib/in-memory';
import { bytes, fmt, fullGc, mean, slope, table, goalsSection } from './lib/stats';
import type { BenchContext, BenchResult, Benchmark, GoalRow } from './lib/types';
import type { HttpServerReady } from './servers/http-server.child';

const ARGS = { text: 'hello' };
const STDIO_SERVER = join(__dirname, '..', 'test', 'fixtures', 'stdio-server.cjs');

interface Heap {
  heapUsed: number;
  external: number;
  rss: number;
}

async function heapNow(): Promise<Heap> {
  await fullGc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, rss: m.rss };
}

interface Growth {
  calls: number;
  seconds: number;
  samples: Array<{ calls: number; heap: number }>;
  bytesPer1000: number;
  first: number;
  last: number;
}

/** Runs `total` calls of `op` at `concurrency`, sampling the heap after a full GC every `chunk` calls. */
async function growth(total: number, chunk: number, concurrency: number, op: () => Promise<unknown>): Promise<Growth> {
  const samples: Growth['samples'] = [];
  const t0 = performance.now();
  let done = 0;
  samples.push({ calls: 0, heap: (await heapNow()).heapUsed });
  while (done < total) {
    let started = 0;
    const n = Math.min(chunk, total - done);
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (started < n) {
          started++;
          await op();
        }
      }),
    );
    done += n;
    samples.push({ calls: done, heap: (await heapNow()).heapUsed });
  }
  // The slope is fitted after the warm-up (the first fifth: JIT, caches, lazily built SDK structures).
  const steady = samples.filter((s) => s.calls >= total / 5);
  const perCall = slope(
    steady.map((s) => s.calls),
    steady.map((s) => s.heap),
  );
  return {
    calls: total,
    seconds: (performance.now() - t0) / 1000,
    samples,
    bytesPer1000: perCall * 1000,
    first: steady[0]!.heap,
    last: samples[samples.length - 1]!.heap,
  };
}

function vmRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

function transportSignal(client: Client): AbortSignal | undefined {
  const t = client.transport as unknown as { _abortController?: AbortController } | undefined;
  return t?._abortController?.signal;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const quick = ctx.quick;
  const goals: GoalRow[] = [];
  const out: string[] = [];
  let maxListenerWarnings = 0;
  const onWarning = (w: Error) => {
    if (w.name === 'MaxListenersExceededWarning') maxListenerWarnings++;
  };
  process.on('warning', onWarning);
  try {
    // -------------------------------------------------------------------------------------------
    // A. Heap slope over many in-memory calls
    const total = quick ? 100_000 : 1_000_000;
    const chunk = total / 20;
    out.push('### Heap after many calls through a warm pool', '');
    ctx.log(`memory: ${total} calls through the pool`);
    const pool = new McpPool({ name: 'memory', driver: new InMemoryDriver(), minSessions: 2, maxSessions: 2, maxConcurrentPerSession: 4 });
    await pool.start();
    await pool.listTools();
    const signalOwner = new AbortController();
    let viaPool: Growth;
    let withSignal: Growth;
    let bareGrowth: Growth;
    let listenersLeft = 0;
    try {
      viaPool = await growth(total, chunk, 8, () => pool.callTool('echo', ARGS));
      ctx.log('memory: calls with a long-lived caller AbortSignal');
      const n = quick ? 20_000 : 200_000;
      withSignal = await growth(n, n / 10, 8, () => pool.callTool('echo', ARGS, { signal: signalOwner.signal }));
      listenersLeft = getEventListeners(signalOwner.signal, 'abort').length;
    } finally {
      await pool.shutdown();
    }
    ctx.log('memory: bare client reference');
    const bare = await bareInMemoryClient();
    try {
      const n = quick ? 20_000 : 200_000;
      bareGrowth = await growth(n, n / 10, 8, () => bare.client.callTool({ name: 'echo', arguments: ARGS }));
    } finally {
      await bare.close();
    }
    const rowOf = (label: string, g: Growth) => [
      label,
      g.calls.toLocaleString('en-US'),
      fmt(g.seconds),
      bytes(g.first),
      bytes(g.last),
      `${fmt(g.bytesPer1000)} B`,
    ];
    out.push(
      `Calls of the in-memory \`echo\` tool, 8 callers; the heap is read after a full GC (\`global.gc()\`, three passes) ` +
        `every 1/20 (1/10) of the run; the slope is a least-squares fit over the samples after the first fifth (warm-up). ` +
        `A slope of a few bytes per 1 000 calls is measurement noise (a few KiB over the run), not a leak.`,
      '',
      table(
        ['run', 'calls', 'seconds', 'heap after warm-up', 'heap at the end', 'slope per 1 000 calls'],
        [
          rowOf('our pool, `pool.callTool()` (2 sessions × 4 slots)', viaPool),
          rowOf('our pool, each call given the same long-lived `signal`', withSignal),
          rowOf('bare SDK client (reference)', bareGrowth),
        ],
      ),
      '',
      `Abort listeners left on the caller's long-lived signal after ${withSignal.calls.toLocaleString('en-US')} calls: ${listenersLeft}.`,
      '',
    );
    const leakPerMillion = viaPool.bytesPer1000 * 1000;
    goals.push({
      goal: `heap after ${total.toLocaleString('en-US')} calls through a warm pool`,
      target: 'does not grow (slope < 100 B per 1 000 calls, i.e. < 100 KB per million)',
      measured: `${fmt(viaPool.bytesPer1000)} B per 1 000 calls (${bytes(leakPerMillion)} per million); ${bytes(viaPool.first)} → ${bytes(viaPool.last)}`,
      met: viaPool.bytesPer1000 < 100,
    });
    goals.push({
      goal: 'abort listeners left on a caller signal reused for every call',
      target: '0',
      measured: String(listenersLeft),
      met: listenersLeft === 0,
    });

    // -------------------------------------------------------------------------------------------
    // B. Memory per idle HTTP session, per stdio session
    out.push('### Memory per session', '');
    const sessions = quick ? 10 : 50;
    const server = await ChildHandle.start<HttpServerReady>(join(__dirname, 'servers', 'http-server.child.ts'));
    const url = new URL(server.ready.url);
    const rows: Array<Array<string | number>> = [];
    let httpPerSession = NaN;
    try {
      // One-time costs (undici, SDK modules) first, so that they are not charged to the sessions.
      const warm = new Client({ name: 'warm', version: '1' });
      const warmT = new StreamableHTTPClientTransport(url);
      await warm.connect(warmT);
      await warm.listTools();
      await warmT.terminateSession();
      await warm.close();
      const warmPool = new McpPool({ name: 'warm', endpoint: url, minSessions: 1, maxSessions: 1 });
      await warmPool.start();
      await warmPool.callTool('echo', ARGS);
      await warmPool.shutdown();

      ctx.log(`memory: ${sessions} idle HTTP sessions`);
      /** Heap and external memory per session of `sessions` sessions opened by `open` (which returns their closer). */
      const perSession = async (open: () => Promise<() => Promise<void>>): Promise<{ heap: number; external: number }> => {
        const m0 = await heapNow();
        const close = await open();
        const m1 = await heapNow();
        await close();
        return { heap: (m1.heapUsed - m0.heapUsed) / sessions, external: (m1.external - m0.external) / sessions };
      };
      const openPool = async () => {
        const httpPool = new McpPool({ name: 'idle-http', endpoint: url, minSessions: sessions, maxSessions: sessions });
        await httpPool.start();
        await httpPool.listTools();
        return () => httpPool.shutdown();
      };
      const openBare = async () => {
        const bareClients: Array<{ c: Client; t: StreamableHTTPClientTransport }> = [];
        for (let i = 0; i < sessions; i++) {
          const c = new Client({ name: 'bare', version: '1' });
          const t = new StreamableHTTPClientTransport(url);
          await c.connect(t);
          await c.listTools();
          bareClients.push({ c, t });
        }
        return async () => {
          for (const { c, t } of bareClients) {
            await t.terminateSession().catch(() => undefined);
            await c.close();
          }
        };
      };
      // Twice each, alternating; the second pass is reported (the first still pays for lazily built things).
      let poolMem = await perSession(openPool);
      let bareMem = await perSession(openBare);
      poolMem = await perSession(openPool);
      bareMem = await perSession(openBare);
      httpPerSession = poolMem.heap;
      rows.push([`our pool, Streamable HTTP (${sessions} sessions)`, bytes(poolMem.heap), bytes(poolMem.external), '—']);
      rows.push([`bare SDK clients, Streamable HTTP (${sessions}, for comparison)`, bytes(bareMem.heap), bytes(bareMem.external), '—']);
    } finally {
      await server.close();
    }

    const stdioCount = quick ? 2 : 4;
    ctx.log(`memory: ${stdioCount} stdio sessions`);
    const pids: number[] = [];
    const inner = new StdioDriver({ command: process.execPath, args: [STDIO_SERVER], stderr: 'inherit' });
    const stdioDriver: SessionDriver = {
      kind: inner.kind,
      supportsHeaders: inner.supportsHeaders,
      create: async (c) => {
        const ds = await inner.create(c);
        if (ds.pid) pids.push(ds.pid);
        return ds;
      },
      classify: (e, s) => inner.classify(e),
    };
    const m0 = await heapNow();
    const stdioPool = new McpPool({ name: 'idle-stdio', transport: 'stdio', driver: stdioDriver, minSessions: stdioCount, maxSessions: stdioCount });
    let childRss = NaN;
    try {
      await stdioPool.start();
      await stdioPool.listTools();
      const m1 = await heapNow();
      childRss = mean(pids.map(vmRss));
      rows.push([
        `our pool, stdio (${stdioCount} sessions)`,
        bytes((m1.heapUsed - m0.heapUsed) / stdioCount),
        bytes((m1.external - m0.external) / stdioCount),
        bytes(childRss),
      ]);
    } finally {
      await stdioPool.shutdown();
    }
    out.push(
      `Idle sessions, each connected, initialized and with its tools listed; memory of this process measured after full GCs, ` +
        `before and after, divided by the number of sessions (HTTP: the server runs in another process). An HTTP session ` +
        `holds a standalone GET SSE stream open (one socket). A stdio session is also a child process: its resident memory ` +
        `(VmRSS of \`node test/fixtures/stdio-server.cjs\`) is in the last column. (This process's RSS is not shown: ` +
        `after a GC it moves by more than a session weighs.)`,
      '',
      table(['sessions', 'heap per session', 'external per session', 'child process RSS'], rows),
      '',
    );
    goals.push({ goal: 'memory per idle HTTP session (client heap)', target: '— (reported)', measured: bytes(httpPerSession) });
    goals.push({ goal: 'memory per stdio session (child process RSS)', target: '— (reported)', measured: bytes(childRss) });

    // -------------------------------------------------------------------------------------------
    // C. Abort listeners on a busy HTTP session
    out.push('### Abort listeners on a busy HTTP session', '');
    const calls = quick ? 1500 : 6000;
    const server2 = await ChildHandle.start<HttpServerReady>(join(__dirname, 'servers', 'http-server.child.ts'));
    const listenerRows: Array<Array<string | number>> = [];
    const listenerResults = new Map<string, { max: number; warnings: number; perSec: number }>();
    try {
      const url2 = new URL(server2.ready.url);
      /** One session, `calls` sequential calls; samples the listeners on the transport's own signal. */
      const measure = async (key: string, label: string, session: { client: Client; call: () => Promise<unknown>; close: () => Promise<void> }) => {
        ctx.log(`memory: abort listeners, ${key}`);
        try {
          const signal = transportSignal(session.client);
          await fullGc();
          const w0 = maxListenerWarnings;
          let max = 0;
          const t0 = performance.now();
          for (let i = 0; i < calls; i++) {
            await session.call();
            if (signal && i % 50 === 0) max = Math.max(max, getEventListeners(signal, 'abort').length);
          }
          const perSec = (calls / (performance.now() - t0)) * 1000;
          listenerResults.set(key, { max, warnings: maxListenerWarnings - w0, perSec });
          listenerRows.push([label, calls, signal ? max : 'n/a', maxListenerWarnings - w0, fmt(perSec)]);
        } finally {
          await session.close();
        }
      };
      const bareClient = new Client({ name: 'bare', version: '1' });
      const bareTransport = new StreamableHTTPClientTransport(url2);
      await bareClient.connect(bareTransport);
      await measure('sdk', 'bare SDK client (global fetch), for comparison', {
        client: bareClient,
        call: () => bareClient.callTool({ name: 'echo', arguments: ARGS }),
        close: async () => {
          await bareTransport.terminateSession().catch(() => undefined);
          await bareClient.close();
        },
      });
      const p = new McpPool({ name: 'listeners', endpoint: url2, minSessions: 1, maxSessions: 1 });
      await p.start();
      const pooledClient = await p.session(async (l) => l.client as Client);
      await measure('pool', 'our pool, as shipped (one session)', {
        client: pooledClient,
        call: () => p.callTool('echo', ARGS),
        close: () => p.shutdown(),
      });
    } finally {
      await server2.close();
    }
    out.push(
      `${calls} sequential \`echo\` calls on one HTTP session; every 50 calls, the number of 'abort' listeners on the SDK ` +
        `transport's own AbortSignal (the one it passes to every fetch) is read with \`events.getEventListeners\`. undici ` +
        `(Node's fetch) adds one listener per request to the signal it is given and removes it only when the Request is ` +
        `garbage-collected, so on a bare SDK client the count climbs until a major GC, and Node warns past 1 500. The ` +
        `pool's HTTP driver gives each request its own signal, linked to the transport's by one listener ` +
        `(lib/transports/linked-fetch.ts).`,
      '',
      table(['session', 'calls', "max 'abort' listeners on the transport signal", 'MaxListenersExceededWarning', 'calls/s'], listenerRows),
      '',
    );
    // What a pile of listeners costs each request: EventTarget walks its listener list on every add/remove.
    const walk: Array<Array<string | number>> = [];
    for (const n of [0, 1000, 3000]) {
      const ac = new AbortController();
      setMaxListeners(0, ac.signal);
      const keep: Array<() => void> = [];
      for (let i = 0; i < n; i++) {
        const f = () => undefined;
        keep.push(f);
        ac.signal.addEventListener('abort', f, { once: true });
      }
      const iterations = 20_000;
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) {
        const f = () => undefined;
        ac.signal.addEventListener('abort', f, { once: true });
        ac.signal.removeEventListener('abort', f);
      }
      walk.push([n, `${fmt(((performance.now() - t0) * 1e6) / iterations)} ns`]);
    }
    out.push(
      'What each request pays for the pile: adding and removing one abort listener on a signal that already holds N ' +
        '(Node walks the list each time). Past 1 500, the process also got a MaxListenersExceededWarning (an Error with a ' +
        'stack) for almost every further request, as the table above shows.',
      '',
      table(['listeners already on the signal', 'addEventListener + removeEventListener'], walk),
      '',
    );
    const sdk = listenerResults.get('sdk')!;
    const pooled = listenerResults.get('pool')!;
    goals.push({
      goal: 'no MaxListenersExceededWarning: a busy pooled HTTP session',
      target: '0 warnings',
      measured: `${pooled.warnings} warnings, at most ${pooled.max} listener(s) on the transport signal (a bare SDK client: ${sdk.warnings} warnings, up to ${sdk.max})`,
      met: pooled.warnings === 0,
    });
  } finally {
    process.off('warning', onWarning);
  }
  out.push(
    `MaxListenersExceededWarning events in this benchmark's process: ${maxListenerWarnings} (every benchmark process counts ` +
      `its warnings; see "Process warnings" at the top).`,
    '',
    ...goalsSection(goals),
  );
  return { markdown: out.join('\n'), goals };
}

const bench: Benchmark = { name: 'memory', title: '6. Memory', run };
export default bench;

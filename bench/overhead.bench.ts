/**
 * 3. The pool's own cost, in process, with the SDK's InMemoryTransport (no network, no child process):
 * - a tool call through the pool vs the same call on a bare SDK client;
 * - bare acquire + release of an idle slot: ours vs generic-pool vs tarn;
 * - the same with 1 000 sessions and 9 999 leases out vs 10 sessions and 99 leases out.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import * as genericPool from 'generic-pool';
import { Pool as TarnPool } from 'tarn';
import { McpPool, type McpLease } from '../lib';
import { InMemoryDriver, bareInMemoryClient } from './lib/in-memory';
import { Samples, countLoop, fmt, fullGc, median, pct, quantile, table, times, us, goalsSection } from './lib/stats';
import type { BenchContext, BenchResult, Benchmark, GoalRow } from './lib/types';

const ARGS = { text: 'hello' };

function inMemoryPool(name: string, sessions: number, mcps: number): McpPool {
  return new McpPool({
    name,
    driver: new InMemoryDriver(),
    minSessions: sessions,
    maxSessions: sessions,
    maxConcurrentPerSession: mcps,
    maxWaiters: 100_000,
  });
}

/** Per-op cost in ns, one sample per batch of `batch` ops. */
async function timeBatches(samples: Samples, batches: number, batch: number, body: (n: number) => Promise<void> | void): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    await body(batch);
    samples.push(((performance.now() - t0) * 1e6) / batch);
  }
}

async function callOverhead(ctx: BenchContext, goals: GoalRow[], out: string[]): Promise<void> {
  const quick = ctx.quick;
  const rounds = quick ? 3 : 30;
  const bare1 = await bareInMemoryClient();
  const bare16 = await bareInMemoryClient();
  const pool1 = inMemoryPool('overhead-c1', 1, 1);
  const pool16 = inMemoryPool('overhead-c16', 1, 16);
  const poolLease = inMemoryPool('overhead-lease', 1, 1);
  const poolByHand = inMemoryPool('overhead-by-hand', 1, 1);
  const poolFloor = inMemoryPool('overhead-floor', 1, 1);
  const pools = [pool1, pool16, poolLease, poolByHand, poolFloor];
  await Promise.all(pools.map((p) => p.start()));
  // Cache the tool list, as a warm application would have it (the pool also lists the tools on each new
  // session; the bare clients list them once too, so that both sides have the SDK's tool metadata cached).
  await Promise.all(pools.map((p) => p.listTools()));
  await bare1.client.listTools();
  await bare16.client.listTools();
  const held = await poolLease.acquire();
  const setups = [
    {
      conc: 1,
      total: quick ? 500 : 2000,
      variants: [
        { key: 'bare', label: 'bare SDK client: `client.callTool()`', op: () => bare1.client.callTool({ name: 'echo', arguments: ARGS }) },
        { key: 'pool', label: 'our pool: `pool.callTool()`', op: () => pool1.callTool('echo', ARGS) },
        { key: 'lease', label: 'a held lease: `lease.callTool()`', op: () => held.callTool('echo', ARGS) },
        {
          key: 'by-hand',
          label: 'borrow by hand: `tryAcquire()`, `lease.callTool()`, `release()` (one async frame, no retry)',
          op: async () => {
            const lease = poolByHand.tryAcquire() ?? (await poolByHand.acquire());
            try {
              return await lease.callTool('echo', ARGS);
            } finally {
              lease.release();
            }
          },
        },
        {
          key: 'floor',
          label: 'floor: `tryAcquire()`, the SDK call on `lease.client`, `release()` (bypasses the pool\'s call handling)',
          op: () => {
            const lease = poolFloor.tryAcquire()!;
            return (lease.client as Client).callTool({ name: 'echo', arguments: ARGS }).finally(() => lease.release());
          },
        },
      ],
    },
    {
      conc: 16,
      total: quick ? 2000 : 8000,
      variants: [
        { key: 'bare', label: 'bare SDK client: `client.callTool()`', op: () => bare16.client.callTool({ name: 'echo', arguments: ARGS }) },
        { key: 'pool', label: 'our pool (1 session, maxConcurrentPerSession 16): `pool.callTool()`', op: () => pool16.callTool('echo', ARGS) },
      ],
    },
  ];
  try {
    for (const s of setups) {
      ctx.log(`overhead: calls, concurrency ${s.conc}`);
      const perCall = new Map<string, number[]>();
      const wall = new Map<string, number[]>();
      const lat = new Map<string, Samples>();
      const ratios = new Map<string, number[]>();
      for (const v of s.variants) await countLoop(s.conc, s.total, v.op); // warm-up
      for (let r = 0; r < rounds; r++) {
        const thisRound = new Map<string, number>();
        for (let i = 0; i < s.variants.length; i++) {
          const v = s.variants[(i + r) % s.variants.length]!;
          const samples = lat.get(v.key) ?? lat.set(v.key, new Samples()).get(v.key)!;
          const cpu0 = process.cpuUsage();
          const elapsed = await countLoop(s.conc, s.total, v.op, samples);
          const cpu = process.cpuUsage(cpu0);
          const cpuMsPerCall = (cpu.user + cpu.system) / 1000 / s.total;
          thisRound.set(v.key, cpuMsPerCall);
          (perCall.get(v.key) ?? perCall.set(v.key, []).get(v.key)!).push(cpuMsPerCall);
          (wall.get(v.key) ?? wall.set(v.key, []).get(v.key)!).push(elapsed / s.total);
        }
        for (const v of s.variants) (ratios.get(v.key) ?? ratios.set(v.key, []).get(v.key)!).push(thisRound.get(v.key)! / thisRound.get('bare')!);
      }
      out.push(`#### Concurrency ${s.conc} (${rounds} rounds × ${s.total} calls per variant)`, '');
      out.push(
        table(
          ['variant', 'CPU time per call', 'wall time per call', 'calls/s', 'latency p50', 'latency p99', 'CPU vs bare client'],
          s.variants.map((v) => {
            const pc = median(perCall.get(v.key)!);
            const w = median(wall.get(v.key)!);
            const l = lat.get(v.key)!.view();
            const ratio = median(ratios.get(v.key)!);
            return [
              v.label,
              us(pc),
              us(w),
              fmt(1000 / w),
              us(quantile(l, 0.5)),
              us(quantile(l, 0.99)),
              v.key === 'bare' ? '—' : `${ratio >= 1 ? '+' : ''}${pct(ratio - 1)}`,
            ];
          }),
        ),
        '',
      );
      const ratio = median(ratios.get('pool')!);
      goals.push({
        goal: `in-memory call, concurrency ${s.conc}: pool.callTool vs bare client`,
        target: '≤ +5%',
        measured: `${ratio >= 1 ? '+' : ''}${pct(ratio - 1)} (${us(median(perCall.get('pool')!))} vs ${us(median(perCall.get('bare')!))})`,
        met: ratio <= 1.05,
      });
    }
  } finally {
    held.release();
    for (const p of pools) await p.shutdown();
    await bare1.close();
    await bare16.close();
  }
}

async function acquireRelease(ctx: BenchContext, goals: GoalRow[], out: string[]): Promise<void> {
  const quick = ctx.quick;
  const rounds = quick ? 3 : 20;
  const batches = quick ? 20 : 40;
  const batch = 256;
  ctx.log('overhead: acquire + release');
  const ours = inMemoryPool('acquire', 10, 1);
  await ours.start();
  const gp = genericPool.createPool<object>({ create: async () => ({}), destroy: async () => undefined }, { min: 10, max: 10 });
  const tarn = new TarnPool<object>({ create: async () => ({}), destroy: () => undefined, min: 10, max: 10 });
  // Fill both to 10 idle resources.
  const gpAll = await Promise.all(Array.from({ length: 10 }, () => gp.acquire()));
  for (const r of gpAll) await gp.release(r);
  const tarnAll = await Promise.all(Array.from({ length: 10 }, () => tarn.acquire().promise));
  for (const r of tarnAll) tarn.release(r);
  const variants = [
    {
      key: 'ours',
      label: 'our pool: `await pool.acquire()` + `lease.release()`',
      body: async (n: number) => {
        for (let i = 0; i < n; i++) (await ours.acquire()).release();
      },
    },
    {
      key: 'ours-sync',
      label: 'our pool: `pool.tryAcquire()` + `lease.release()` (no await)',
      body: (n: number) => {
        for (let i = 0; i < n; i++) ours.tryAcquire()!.release();
      },
    },
    {
      key: 'generic-pool',
      label: 'generic-pool: `await pool.acquire()` + `pool.release(r)`',
      body: async (n: number) => {
        for (let i = 0; i < n; i++) void gp.release(await gp.acquire());
      },
    },
    {
      key: 'tarn',
      label: 'tarn: `await pool.acquire().promise` + `pool.release(r)`',
      body: async (n: number) => {
        for (let i = 0; i < n; i++) tarn.release(await tarn.acquire().promise);
      },
    },
  ];
  const samples = new Map(variants.map((v) => [v.key, new Samples()]));
  try {
    for (const v of variants) await timeBatches(new Samples(), batches, batch, v.body); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + r) % variants.length]!;
        await timeBatches(samples.get(v.key)!, batches, batch, v.body);
      }
    }
  } finally {
    await ours.shutdown();
    await gp.drain();
    await gp.clear();
    await tarn.destroy();
  }
  const oursMedian = median(samples.get('ours')!.view());
  out.push(
    `Each sample is the mean cost of one acquire + release over a batch of ${batch}, with idle slots available (10 sessions / ` +
      `resources each); ${rounds} rounds × ${batches} batches per variant, interleaved. The async variants include one ` +
      `\`await\` (a microtask) per acquire, as any caller pays.`,
    '',
    table(
      ['variant', 'median', 'p99', 'vs ours'],
      variants.map((v) => {
        const s = samples.get(v.key)!.view();
        return [v.label, `${fmt(median(s))} ns`, `${fmt(quantile(s, 0.99))} ns`, v.key === 'ours' ? '—' : times(median(s) / oursMedian)];
      }),
    ),
    '',
  );
  goals.push({
    goal: 'acquire + release of an idle slot (await pool.acquire)',
    target: '≤ 1 µs median',
    measured: `${fmt(oursMedian)} ns (generic-pool ${fmt(median(samples.get('generic-pool')!.view()))} ns, tarn ${fmt(median(samples.get('tarn')!.view()))} ns)`,
    met: oursMedian <= 1000,
  });
}

async function scale(ctx: BenchContext, goals: GoalRow[], out: string[]): Promise<void> {
  const quick = ctx.quick;
  const big = quick ? 200 : 1000;
  const small = 10;
  const mcps = 10;
  const rounds = quick ? 3 : 15;
  const batches = quick ? 20 : 40;
  const batch = 256;
  ctx.log(`overhead: scale, starting ${big + small} in-memory sessions`);
  const t0 = performance.now();
  const pools = [inMemoryPool('scale-small', small, mcps), inMemoryPool('scale-big', big, mcps)];
  await Promise.all(pools.map((p) => p.start()));
  const startMs = performance.now() - t0;
  const held: McpLease[][] = [[], []];
  const rows: Array<Array<string | number>> = [];
  const result = new Map<string, number>();
  try {
    for (const loaded of [false, true]) {
      if (loaded) {
        for (let i = 0; i < pools.length; i++) {
          const p = pools[i]!;
          const capacity = (i === 0 ? small : big) * mcps;
          for (let k = 0; k < capacity - 1; k++) held[i]!.push(p.tryAcquire()!);
        }
      }
      const samples = [new Samples(), new Samples()];
      const syncSamples = [new Samples(), new Samples()];
      const bodies = pools.map((p) => ({
        async: async (n: number) => {
          for (let i = 0; i < n; i++) (await p.acquire()).release();
        },
        sync: (n: number) => {
          for (let i = 0; i < n; i++) p.tryAcquire()!.release();
        },
      }));
      for (const b of bodies) {
        await timeBatches(new Samples(), batches, batch, b.async);
        await timeBatches(new Samples(), batches, batch, b.sync);
      }
      for (let r = 0; r < rounds; r++) {
        for (let j = 0; j < 2; j++) {
          const i = (j + r) % 2;
          await timeBatches(samples[i]!, batches, batch, bodies[i]!.async);
          await timeBatches(syncSamples[i]!, batches, batch, bodies[i]!.sync);
        }
      }
      for (let i = 0; i < 2; i++) {
        const n = i === 0 ? small : big;
        const leases = loaded ? n * mcps - 1 : 0;
        const a = median(samples[i]!.view());
        const s = median(syncSamples[i]!.view());
        result.set(`${i}/${loaded}`, a);
        rows.push([
          `${n} sessions × ${mcps} slots, ${leases.toLocaleString('en-US')} leases out`,
          `${fmt(a)} ns`,
          `${fmt(quantile(samples[i]!.view(), 0.99))} ns`,
          `${fmt(s)} ns`,
          i === 1 ? times(a / result.get(`0/${loaded}`)!) : '—',
        ]);
      }
    }
  } finally {
    for (const hs of held) for (const l of hs) l.release();
    await Promise.all(pools.map((p) => p.shutdown()));
  }
  out.push(
    `Pools of ${small} and ${big} in-memory sessions with maxConcurrentPerSession ${mcps} (starting the ${big + small} ` +
      `sessions took ${fmt(startMs)} ms). "Leases out": every slot but one is borrowed with \`tryAcquire()\` and held, so each ` +
      `measured acquire gets the one free slot. Same batching as above; the two sizes interleaved.`,
    '',
    table(['pool', 'acquire + release (await), median', 'p99', 'tryAcquire + release, median', `vs ${small} sessions`], rows),
    '',
  );
  const ratio = result.get(`1/true`)! / result.get(`0/true`)!;
  goals.push({
    goal: `acquire + release with ${big} sessions / ${(big * mcps - 1).toLocaleString('en-US')} leases out vs ${small} / ${small * mcps - 1}`,
    target: '≤ 1.2×',
    measured: `${times(ratio)} (${fmt(result.get('1/true')!)} vs ${fmt(result.get('0/true')!)} ns)`,
    met: ratio <= 1.2,
  });
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const goals: GoalRow[] = [];
  const out: string[] = [];
  out.push('### A tool call: pool vs bare client', '');
  out.push(
    'Both sides talk to an identical in-process McpServer (one `echo` tool) over the SDK\'s InMemoryTransport; the pool ' +
      'uses a `driver` that connects `ctx.newClient()` to such a server, so each call includes the server\'s work too. ' +
      'Variants alternate round by round. The cost is the process\'s CPU time (`process.cpuUsage()`, user + system) per ' +
      'call, median over rounds — steadier than wall time when other processes share the machine; the overhead is the ' +
      'median of the per-round CPU ratios. Wall time and per-call latency are shown as well. `pool.callTool()` includes ' +
      'borrowing and returning the session. The other rows split that cost: a lease held across calls (only the ' +
      'per-call handling: deadline, metrics, error translation), borrowing by hand around `lease.callTool()`, and the ' +
      'floor — borrow, the raw SDK call on the lease\'s client, return.',
    '',
  );
  await callOverhead(ctx, goals, out);
  await fullGc();
  out.push('### Acquire + release of an idle slot', '');
  await acquireRelease(ctx, goals, out);
  await fullGc();
  out.push('### Does the cost grow with the pool?', '');
  await scale(ctx, goals, out);
  out.push(...goalsSection(goals));
  return { markdown: out.join('\n'), goals };
}

const bench: Benchmark = { name: 'overhead', title: '3. Pool overhead in process (InMemoryTransport)', run };
export default bench;

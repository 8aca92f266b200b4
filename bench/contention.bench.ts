/**
 * 4. Contention: 10 sessions, 1 000 callers waiting at once. Hand-offs per second (each caller returns
 * its slot at once), FIFO order, and the largest wait when each caller makes one real in-memory call,
 * against generic-pool and tarn holding the same in-memory clients.
 */
import * as genericPool from 'generic-pool';
import { Pool as TarnPool } from 'tarn';
import { McpPool } from '../lib';
import { InMemoryDriver } from './lib/in-memory';
import { fmt, median, ms, table, times, goalsSection } from './lib/stats';
import type { BenchContext, BenchResult, Benchmark, GoalRow } from './lib/types';

const SLOTS = 10;

/** One pool under test, reduced to what the harness needs. `acquire` must call the pool synchronously. */
interface Contender {
  key: string;
  label: string;
  acquire(): Promise<() => void>;
  close(): Promise<void>;
}

interface Trial {
  /** From the first return of the initial holders to the last waiter served. */
  elapsedMs: number;
  /** Cost of queueing one waiter (the acquire() calls made while every slot is held). */
  enqueueUsPerWaiter: number;
  outOfOrder: number;
  maxWaitMs: number;
  idealMaxWaitMs: number;
}

const timer = (msDelay: number) => new Promise<void>((r) => setTimeout(r, msDelay));

async function trial(c: Contender, waiters: number, holdMs: number): Promise<Trial> {
  // Take every slot, queue the waiters, then let go of the slots.
  const initial = await Promise.all(Array.from({ length: SLOTS }, () => c.acquire()));
  const servedAt = new Float64Array(waiters);
  const order = new Int32Array(waiters).fill(-1);
  let served = 0;
  let holdTotal = 0;
  const all: Array<Promise<void>> = new Array(waiters);
  const t0 = performance.now();
  for (let i = 0; i < waiters; i++) {
    all[i] = c.acquire().then(async (release) => {
      const at = performance.now();
      servedAt[i] = at;
      order[i] = served++;
      if (holdMs > 0) {
        await timer(holdMs);
        holdTotal += performance.now() - at;
      }
      release();
    });
  }
  const enqueueMs = performance.now() - t0;
  const released = performance.now();
  for (const release of initial) release();
  await Promise.all(all);
  let last = 0;
  let outOfOrder = 0;
  let maxWait = 0;
  for (let i = 0; i < waiters; i++) {
    if (order[i] !== i) outOfOrder++;
    last = Math.max(last, servedAt[i]!);
    maxWait = Math.max(maxWait, servedAt[i]! - released);
  }
  return {
    elapsedMs: last - released,
    enqueueUsPerWaiter: (enqueueMs * 1000) / waiters,
    outOfOrder,
    maxWaitMs: maxWait,
    // SLOTS slots busy back to back: the last waiter starts once (all holds but the last SLOTS) / SLOTS have passed.
    idealMaxWaitMs: (holdTotal * (waiters - SLOTS)) / waiters / SLOTS,
  };
}

async function contenders(): Promise<Contender[]> {
  const ours = async (key: string, label: string, acquireTimeoutMs: number): Promise<Contender> => {
    const pool = new McpPool({
      name: key,
      driver: new InMemoryDriver(),
      minSessions: SLOTS,
      maxSessions: SLOTS,
      maxConcurrentPerSession: 1,
      maxWaiters: 10_000,
      acquireTimeoutMs,
    });
    await pool.start();
    return {
      key,
      label,
      acquire: () => pool.acquire().then((lease) => () => lease.release()),
      close: () => pool.shutdown(),
    };
  };
  const gp = genericPool.createPool<object>(
    { create: async () => ({}), destroy: async () => undefined },
    { min: SLOTS, max: SLOTS, maxWaitingClients: 10_000, acquireTimeoutMillis: 30_000 },
  );
  const tarn = new TarnPool<object>({ create: async () => ({}), destroy: () => undefined, min: SLOTS, max: SLOTS, acquireTimeoutMillis: 30_000 });
  return [
    await ours('ours', 'our pool (acquireTimeoutMs 30000)', 30_000),
    await ours('ours-no-deadline', 'our pool, acquireTimeoutMs 0 (no deadline)', 0),
    {
      key: 'generic-pool',
      label: 'generic-pool (acquireTimeoutMillis 30000)',
      acquire: () => gp.acquire().then((r) => () => void gp.release(r)),
      close: async () => {
        await gp.drain();
        await gp.clear();
      },
    },
    {
      key: 'tarn',
      label: 'tarn (acquireTimeoutMillis 30000)',
      acquire: () => tarn.acquire().promise.then((r) => () => void tarn.release(r)),
      close: () => tarn.destroy().then(() => undefined),
    },
  ];
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const waiters = 1000;
  const rounds = ctx.quick ? 2 : 7;
  const holdMs = 1;
  const list = await contenders();
  const results = new Map<string, { handoff: Trial[]; work: Trial[] }>(list.map((c) => [c.key, { handoff: [], work: [] }]));
  try {
    for (const c of list) {
      await trial(c, waiters, 0); // warm-up
      await trial(c, waiters, holdMs);
    }
    for (let r = 0; r < rounds; r++) {
      ctx.log(`contention: round ${r + 1}/${rounds}`);
      for (let i = 0; i < list.length; i++) {
        const c = list[(i + r) % list.length]!;
        results.get(c.key)!.handoff.push(await trial(c, waiters, 0));
        results.get(c.key)!.work.push(await trial(c, waiters, holdMs));
      }
    }
  } finally {
    for (const c of list) await c.close();
  }

  const ref = median(results.get('ours')!.handoff.map((t) => waiters / t.elapsedMs));
  const rows = list.map((c) => {
    const { handoff, work } = results.get(c.key)!;
    const rate = median(handoff.map((t) => (waiters / t.elapsedMs) * 1000));
    const maxWait = median(work.map((t) => t.maxWaitMs));
    const ideal = median(work.map((t) => t.idealMaxWaitMs));
    const ooo = [...handoff, ...work].reduce((s, t) => s + t.outOfOrder, 0);
    return [
      c.label,
      fmt(rate),
      times(rate / (ref * 1000)),
      `${fmt(median(handoff.map((t) => t.enqueueUsPerWaiter)))} µs`,
      ooo,
      ms(maxWait),
      ms(ideal),
      times(maxWait / ideal),
    ];
  });
  const ours = results.get('ours')!;
  const gpRes = results.get('generic-pool')!;
  const oursRate = median(ours.handoff.map((t) => waiters / t.elapsedMs)) * 1000;
  const gpRate = median(gpRes.handoff.map((t) => waiters / t.elapsedMs)) * 1000;
  const oursOoo = [...ours.handoff, ...ours.work, ...results.get('ours-no-deadline')!.handoff, ...results.get('ours-no-deadline')!.work].reduce(
    (s, t) => s + t.outOfOrder,
    0,
  );
  const oursWaitRatio = median(ours.work.map((t) => t.maxWaitMs / t.idealMaxWaitMs));
  const goals: GoalRow[] = [
    { goal: 'contention: hand-offs/s, ours vs generic-pool', target: 'faster than generic-pool', measured: `${fmt(oursRate)} vs ${fmt(gpRate)} (${times(oursRate / gpRate)})`, met: oursRate > gpRate },
    { goal: 'contention: FIFO order violations (ours, every round)', target: '0', measured: String(oursOoo), met: oursOoo === 0 },
    {
      goal: `contention: largest wait vs ideal (ours, each holder keeps the slot ${holdMs} ms)`,
      target: 'close to 1× (informational)',
      measured: times(oursWaitRatio),
    },
  ];
  const out = [
    `${SLOTS} slots (our pool: ${SLOTS} in-memory sessions; generic-pool and tarn: ${SLOTS} resources), all taken; then ` +
      `${waiters} callers call acquire() at once and the ${SLOTS} slots are returned. **Hand-off**: each caller returns its slot as ` +
      `soon as it gets it; rate = ${waiters} / time from the first return to the last caller served. **Holding**: each caller ` +
      `keeps its slot for a ${holdMs} ms timer (measured: about 1.1–1.5 ms), then returns it; the ideal largest wait is the sum of ` +
      `the hold times of all but the last ${SLOTS} callers / ${SLOTS}. "Enqueue cost": time of the ${waiters} acquire() calls / ${waiters}. ` +
      `"Out of order": callers not served in the order they called acquire(), summed over all rounds and both modes. ` +
      `Medians of ${rounds} rounds, pools interleaved.`,
    '',
    table(
      ['pool', 'hand-offs/s', 'vs ours', 'enqueue cost per waiter', 'out of order', 'largest wait (holding)', 'ideal', 'vs ideal'],
      rows,
    ),
    '',
    ...goalsSection(goals),
  ];
  return { markdown: out.join('\n'), goals };
}

const bench: Benchmark = { name: 'contention', title: '4. Contention: 10 sessions, 1 000 waiters', run };
export default bench;

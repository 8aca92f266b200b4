/**
 * 5. Dead backend: the endpoint refuses connections (a closed port on 127.0.0.1). N callers want a
 * session for a few seconds; how many creation attempts per second does each pool make? Ours must not
 * grow with the number of callers (one attempt at a time, backoff, then an open circuit).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as genericPool from 'generic-pool';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Pool as TarnPool } from 'tarn';
import { McpPool, StreamableHttpDriver, type SessionDriver } from '../lib';
import { fmt, median, ms, sleep, table, goalsSection } from './lib/stats';
import type { BenchContext, BenchResult, Benchmark, GoalRow } from './lib/types';

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface Harness {
  /** Creation attempts so far (the driver's / factory's create was called). */
  readonly attempts: number;
  /** One caller's borrow, with a deadline; resolves true if it got a session. */
  borrow(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Connects an SDK client to the endpoint, as every pool's create does here. */
async function connectClient(url: URL): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url));
  return client;
}

function ours(url: URL, failureThreshold?: number): Harness {
  let attempts = 0;
  const inner = new StreamableHttpDriver({ endpoint: url });
  const driver: SessionDriver = {
    kind: inner.kind,
    supportsHeaders: inner.supportsHeaders,
    create: (ctx) => {
      attempts++;
      return inner.create(ctx);
    },
    classify: (e, s) => inner.classify(e, s),
  };
  const pool = new McpPool({ name: 'dead', driver, minSessions: 0, maxSessions: 10, maxWaiters: 10_000, ...(failureThreshold ? { failureThreshold } : {}) });
  const started = pool.start();
  return {
    get attempts() {
      return attempts;
    },
    borrow: async (timeoutMs) => {
      await started;
      const lease = await pool.acquire({ acquireTimeoutMs: timeoutMs });
      lease.release();
      return true;
    },
    close: () => pool.shutdown(),
  };
}

function genericPoolHarness(url: URL, windowMs: number): Harness {
  let attempts = 0;
  const gp = genericPool.createPool<Client>(
    {
      create: () => {
        attempts++;
        return connectClient(url);
      },
      destroy: (c) => c.close(),
    },
    { min: 0, max: 10, acquireTimeoutMillis: windowMs, maxWaitingClients: 10_000 },
  );
  // generic-pool reports each failed creation as an event; without a listener they are dropped.
  gp.on('factoryCreateError', () => undefined);
  return {
    get attempts() {
      return attempts;
    },
    borrow: async () => {
      const c = await gp.acquire();
      await gp.release(c);
      return true;
    },
    close: async () => {
      await gp.drain();
      await gp.clear();
    },
  };
}

function tarnHarness(url: URL, windowMs: number): Harness {
  let attempts = 0;
  const tarn = new TarnPool<Client>({
    create: () => {
      attempts++;
      return connectClient(url);
    },
    destroy: (c) => void c.close(),
    min: 0,
    max: 10,
    acquireTimeoutMillis: windowMs,
    createTimeoutMillis: 10_000,
  });
  return {
    get attempts() {
      return attempts;
    },
    borrow: async () => {
      const c = await tarn.acquire().promise;
      tarn.release(c);
      return true;
    },
    close: async () => {
      await tarn.destroy();
    },
  };
}

interface Outcome {
  attempts: number;
  perSec: number;
  firstAnswerMs: number;
  rejections: number;
  afterClose: number;
}

/**
 * `callers` callers each keep asking for a session until the window ends: a rejected caller comes back
 * 100 ms later (the next request of a busy service); a caller still waiting gives up at the window's end.
 */
async function drive(h: Harness, callers: number, windowMs: number): Promise<Outcome> {
  const t0 = performance.now();
  const end = t0 + windowMs;
  const firstAnswers: number[] = [];
  let rejections = 0;
  const caller = async (): Promise<void> => {
    let first = true;
    while (performance.now() < end - 1) {
      try {
        await h.borrow(Math.max(1, Math.round(end - performance.now())));
      } catch {
        rejections++;
      }
      if (first) firstAnswers.push(performance.now() - t0);
      first = false;
      const wait = Math.min(100, end - performance.now());
      if (wait > 0) await sleep(wait);
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  const elapsed = performance.now() - t0;
  const attempts = h.attempts;
  await h.close();
  const closedAt = h.attempts;
  await sleep(300);
  return {
    attempts,
    perSec: (attempts / elapsed) * 1000,
    firstAnswerMs: median(firstAnswers),
    rejections,
    afterClose: h.attempts - closedAt,
  };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const windowMs = ctx.quick ? 1000 : 3000;
  const callerCounts = [10, 100, 1000];
  const url = new URL(`http://127.0.0.1:${await closedPort()}/mcp`);
  const kinds = [
    { key: 'ours', label: 'our pool (defaults: failureThreshold 5, backoff 100 ms → 30 s)', make: () => ours(url) },
    { key: 'ours-nocircuit', label: 'our pool, backoff only (failureThreshold 1 000 000)', make: () => ours(url, 1_000_000) },
    { key: 'generic-pool', label: 'generic-pool (max 10)', make: () => genericPoolHarness(url, windowMs) },
    { key: 'tarn', label: 'tarn (max 10, createRetryIntervalMillis 200)', make: () => tarnHarness(url, windowMs) },
  ];
  const results = new Map<string, Outcome>();
  for (const n of callerCounts) {
    for (const k of kinds) {
      ctx.log(`dead-backend: ${k.key}, ${n} callers`);
      results.set(`${k.key}/${n}`, await drive(k.make(), n, windowMs));
    }
  }
  const rows = kinds.flatMap((k) =>
    callerCounts.map((n) => {
      const o = results.get(`${k.key}/${n}`)!;
      return [k.label, n, o.attempts, fmt(o.perSec), ms(o.firstAnswerMs), fmt(o.rejections), o.afterClose];
    }),
  );
  const goals: GoalRow[] = [];
  for (const key of ['ours', 'ours-nocircuit']) {
    const rates = callerCounts.map((n) => results.get(`${key}/${n}`)!.perSec);
    const growth = rates[rates.length - 1]! / rates[0]!;
    goals.push({
      goal: `dead backend, ${kinds.find((k) => k.key === key)!.label}: attempts/s with 1000 vs 10 callers`,
      target: 'does not grow with callers (≤ 1.5×, allowing for jitter)',
      measured: `${callerCounts.map((n, i) => `${n}: ${fmt(rates[i]!)}/s`).join(', ')}`,
      met: growth <= 1.5,
    });
  }
  for (const key of ['generic-pool', 'tarn']) {
    goals.push({
      goal: `dead backend, ${kinds.find((k) => k.key === key)!.label}: attempts/s (for comparison)`,
      target: '—',
      measured: callerCounts.map((n) => `${n}: ${fmt(results.get(`${key}/${n}`)!.perSec)}/s`).join(', '),
    });
  }
  const out = [
    `The endpoint is \`${url.href}\` on a port bound and then closed, so every connect is refused at once. For ${windowMs} ms, ` +
      `each of N callers asks for a session (deadline: the end of the window); a rejected caller asks again 100 ms later. ` +
      `Every pool creates SDK clients over Streamable HTTP (ours through its own driver, wrapped to count; generic-pool and tarn ` +
      `through a factory that counts). "First answer": median time until a caller's first acquire settled (for generic-pool ` +
      `and tarn, which keep callers waiting, that is the window). "After close": attempts in the 300 ms after the pool was closed.`,
    '',
    table(['pool', 'callers', 'creation attempts', 'attempts/s', 'first answer', 'rejections', 'after close'], rows),
    '',
    ...goalsSection(goals),
  ];
  return { markdown: out.join('\n'), goals };
}

const bench: Benchmark = { name: 'dead-backend', title: '5. Dead backend: creation attempts while the endpoint refuses connections', run };
export default bench;

import type { GoalRow } from './types';
/** Small statistics and formatting helpers shared by the benchmarks. No dependencies. */

/** The q-quantile (0..1) of `values` by nearest rank; sorts a copy. NaN when empty. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) return NaN;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sorted[rank]!;
}

export const median = (values: ArrayLike<number>): number => quantile(values, 0.5);

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length ? s / values.length : NaN;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** A growable list of samples in a Float64Array (no boxing, cheap to push on a hot path). */
export class Samples {
  private buf: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.buf = new Float64Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  pushAll(other: Samples): void {
    for (let i = 0; i < other.length; i++) this.push(other.buf[i]!);
  }
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}

export interface ClosedLoopResult {
  ops: number;
  errors: number;
  firstError?: unknown;
  elapsedMs: number;
  opsPerSec: number;
  latenciesMs: Samples;
}

/**
 * Runs `op` from `concurrency` workers in a closed loop (each starts its next call when the previous one
 * ends) for `durationMs`, or longer until `minOps` calls completed (never past `maxMs`). Throughput is
 * completed calls over the time until the last call in flight finished.
 */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  op: () => Promise<unknown>,
  opts: { minOps?: number; maxMs?: number } = {},
): Promise<ClosedLoopResult> {
  const minOps = opts.minOps ?? 0;
  const maxMs = opts.maxMs ?? durationMs * 4;
  const latencies = new Samples(4096);
  let ops = 0;
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const deadline = start + durationMs;
  const hardDeadline = start + Math.max(durationMs, maxMs);
  const worker = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now >= hardDeadline || (now >= deadline && ops >= minOps)) return;
      const t0 = now;
      try {
        await op();
        latencies.push(performance.now() - t0);
        ops++;
      } catch (error) {
        errors++;
        firstError ??= error;
        if (errors > 1000 && errors > ops) return; // something is badly wrong: stop hammering
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - start;
  return { ops, errors, firstError, elapsedMs, opsPerSec: (ops / elapsedMs) * 1000, latenciesMs: latencies };
}

// ------------------------------------------------------------------------------------------------
// Formatting

/** 3 significant digits, thousands separated: 1234567 → "1,230,000"; 0.01234 → "0.0123". */
export function fmt(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 10 ** digits) return Math.round(n).toLocaleString('en-US');
  const p = Number(n.toPrecision(digits));
  return p.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

export const pct = (ratio: number, digits = 1): string => (Number.isFinite(ratio) ? `${(ratio * 100).toFixed(digits)}%` : '—');
export const times = (ratio: number): string => (Number.isFinite(ratio) ? `${fmt(ratio)}×` : '—');
export const ms = (v: number): string => (Number.isFinite(v) ? `${fmt(v)} ms` : '—');
export const us = (vMs: number): string => (Number.isFinite(vMs) ? `${fmt(vMs * 1000)} µs` : '—');
export const bytes = (b: number): string => {
  const abs = Math.abs(b);
  if (abs >= 1024 * 1024) return `${fmt(b / 1024 / 1024)} MiB`;
  if (abs >= 1024) return `${fmt(b / 1024)} KiB`;
  return `${fmt(b)} B`;
};

/** A markdown table. */
export function table(header: string[], rows: Array<Array<string | number>>, align?: Array<'l' | 'r'>): string {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  const line = (cells: Array<string | number>) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `|${a.map((x) => (x === 'l' ? ' :-- ' : ' --: ')).join('|')}|`, ...rows.map(line)].join('\n');
}

export const goalMark = (met: boolean | undefined): string => (met === undefined ? '—' : met ? '✅ met' : '❌ missed');

/** The "### Goals" section every benchmark ends with: its lines, ready to push into the report. */
export function goalsSection(goals: ReadonlyArray<Pick<GoalRow, 'goal' | 'target' | 'measured' | 'met'>>): string[] {
  return ['### Goals', '', table(['goal', 'target', 'measured', ''], goals.map((g) => [g.goal, g.target, g.measured, goalMark(g.met)])), ''];
}

/** Sleeps without keeping the process alive longer than needed (the timer is cleared on settle). */
export const sleep = (msDelay: number): Promise<void> => new Promise((r) => setTimeout(r, msDelay));

/** Forces a full GC (the benchmarks run with --expose-gc) and lets finalizers run. */
export async function fullGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (npm run bench does this for every benchmark process)');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Runs exactly `total` calls of `op` from `concurrency` workers; returns the elapsed ms and each call's latency. */
export async function countLoop(concurrency: number, total: number, op: () => Promise<unknown>, latencies?: Samples): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      const t = performance.now();
      await op();
      latencies?.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - t0;
}

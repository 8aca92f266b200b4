/**
 * Runs one benchmark in its own process (started by bench/run.ts with --expose-gc) and sends the result
 * back over IPC. A fresh process per benchmark keeps heaps, JIT state and leftover handles apart.
 */
import type { Benchmark, WorkerReport } from './lib/types';
import { BENCHMARKS } from './registry';

// Process warnings, grouped (the same warning can fire thousands of times; counts vary in the message).
const seen = new Map<string, { first: string; count: number }>();
process.on('warning', (w) => {
  const key = `${w.name}: ${w.message.replace(/\d+/g, 'N')}`;
  const entry = seen.get(key);
  if (entry) entry.count++;
  else seen.set(key, { first: `${w.name}: ${w.message}`, count: 1 });
});
const warnings = (): string[] => [...seen.values()].map((e) => `${e.first}${e.count > 1 ? ` (×${e.count}, first shown)` : ''}`);

async function main(): Promise<void> {
  const [name, ...flags] = process.argv.slice(2);
  const quick = flags.includes('--quick');
  const started = performance.now();
  const bench: Benchmark | undefined = BENCHMARKS.find((b) => b.name === name);
  let report: WorkerReport;
  try {
    if (!bench) throw new Error(`no benchmark named ${name}`);
    const result = await bench.run({ quick, log: (m) => process.stderr.write(`  [${name}] ${m}\n`) });
    report = { name: name!, ok: true, result, warnings: warnings(), elapsedMs: performance.now() - started };
  } catch (error) {
    report = { name: name!, ok: false, error: String((error as Error)?.stack ?? error), warnings: warnings(), elapsedMs: performance.now() - started };
  }
  await new Promise<void>((resolve) => process.send!(report, () => resolve()));
  process.disconnect();
  // Everything the benchmark opened must be closed by now: the process exits by itself. If it does not,
  // the runner reports the handles still open and kills it.
  const timer = setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().map((h) => (h as object)?.constructor?.name);
    process.stderr.write(`  [${name}] still running 5 s after it finished; open handles: ${handles.join(', ')}\n`);
    process.exit(3);
  }, 5000);
  timer.unref();
}

void main();

/**
 * `npm run bench` — runs every benchmark, each in its own Node process (with --expose-gc), prints the
 * markdown tables and writes them to bench/RESULTS.md with the machine, Node version and date.
 *
 *   npm run bench                      everything (about 10 minutes on 2 cores) → bench/RESULTS.md
 *   npm run bench -- --quick           short smoke run → bench/.tmp/RESULTS.quick.md
 *   npm run bench -- overhead memory   only the named benchmarks → bench/.tmp/RESULTS.partial.md
 *   npm run bench -- --list            the names
 *   npm run bench -- --out FILE        write the results to FILE instead
 *
 * Only a full, non-quick run of every benchmark overwrites bench/RESULTS.md.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ForeignCpuMonitor } from './lib/foreign-cpu';
import { machineInfo } from './lib/machine';
import { fmt, goalMark, pct, table } from './lib/stats';
import type { GoalRow, WorkerReport } from './lib/types';
import { BENCHMARKS } from './registry';

const BENCH_TIMEOUT_MS = 8 * 60_000;

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const list = argv.includes('--list');
  const outIdx = argv.indexOf('--out');
  const out = outIdx >= 0 ? argv[outIdx + 1] : undefined;
  const names = argv.filter((a, i) => !a.startsWith('--') && (outIdx < 0 || i !== outIdx + 1));
  return { quick, list, out, names };
}

function runWorker(name: string, quick: boolean): Promise<WorkerReport> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = fork(join(__dirname, 'worker.ts'), [name, ...(quick ? ['--quick'] : [])], {
      // --no-warnings only silences the printing: the worker still counts every warning and reports it.
      execArgv: [...process.execArgv, '--expose-gc', '--no-warnings'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: WorkerReport | undefined;
    child.on('message', (m: WorkerReport) => (report = m));
    const timer = setTimeout(() => {
      process.stderr.write(`bench ${name}: no result after ${BENCH_TIMEOUT_MS / 60_000} min, killing it\n`);
      child.kill('SIGKILL');
    }, BENCH_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const elapsedMs = performance.now() - started;
      if (report && code !== 0) {
        report.warnings.push(`worker exited with ${code ?? signal} after reporting (a handle was left open)`);
      }
      resolve(report ?? { name, ok: false, error: `worker exited with ${code ?? signal} and no result`, warnings: [], elapsedMs });
    });
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const b of BENCHMARKS) console.log(`${b.name.padEnd(14)} ${b.title}`);
    return;
  }
  const unknown = args.names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const selected = args.names.length ? BENCHMARKS.filter((b) => args.names.includes(b.name)) : BENCHMARKS;
  const full = !args.quick && selected.length === BENCHMARKS.length;
  const outFile =
    args.out ?? (full ? join(__dirname, 'RESULTS.md') : join(__dirname, '.tmp', args.quick ? 'RESULTS.quick.md' : 'RESULTS.partial.md'));

  const m = machineInfo();
  const startedAt = new Date();
  const t0 = performance.now();
  const sections: string[] = [];
  const goals: Array<GoalRow & { bench: string }> = [];
  const warnings: string[] = [];
  const busy: string[] = [];
  let failed = 0;

  for (const b of selected) {
    // Other processes on the machine skew every number: measure how much CPU they took meanwhile.
    const loadBefore = loadavg()[0]!;
    process.stderr.write(`\n▶ ${b.name}: ${b.title}\n`);
    const monitor = new ForeignCpuMonitor();
    monitor.start();
    const report = await runWorker(b.name, args.quick);
    const foreign = monitor.stop();
    const loadAfter = loadavg()[0]!;
    if (foreign && foreign.share > 0.05) {
      busy.push(`${b.name} (${pct(foreign.share, 0)})`);
      process.stderr.write(`  note: other processes took ${pct(foreign.share, 0)} of the CPU meanwhile; these numbers are skewed\n`);
    }
    process.stderr.write(`✓ ${b.name} in ${fmt(report.elapsedMs / 1000)} s\n`);
    let body: string;
    if (report.ok && report.result) {
      body = report.result.markdown;
      for (const g of report.result.goals) goals.push({ ...g, bench: b.name });
    } else {
      failed++;
      body = `**Failed:**\n\n\`\`\`\n${report.error}\n\`\`\``;
    }
    for (const w of report.warnings) warnings.push(`${b.name}: ${w}`);
    const foreignText = foreign
      ? `other processes on the machine used ${fmt(foreign.cpuSeconds)} CPU-s meanwhile (${pct(foreign.share, 1)} of its capacity)`
      : 'CPU use of other processes unknown (no /proc)';
    const section =
      `## ${b.title}\n\n_\`npm run bench -- ${b.name}\`, ${fmt(report.elapsedMs / 1000)} s; ${foreignText}; 1-minute load ` +
      `average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (the benchmark's own processes included)._\n\n${body}\n`;
    sections.push(section);
    console.log(`\n${section}`);
  }

  const totalS = (performance.now() - t0) / 1000;
  const goalRows = goals.filter((g) => g.met !== undefined);
  const met = goalRows.filter((g) => g.met).length;
  const header = [
    '# Benchmark results',
    '',
    `Generated by \`npm run bench${args.quick ? ' -- --quick' : ''}${args.names.length ? ` -- ${args.names.join(' ')}` : ''}\` ` +
      `on ${startedAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}; total ${fmt(totalS)} s.` +
      (args.quick ? ' **Quick mode: short windows, small counts — a smoke run, not results.**' : ''),
    '',
    table(
      ['machine', ''],
      [
        ['CPU', m.cpuModel],
        ['cores', m.cores],
        ['memory', `${m.memoryGiB} GiB`],
        ['OS', m.os],
        ['Node', m.node],
        ...Object.entries(m.versions).map(([k, v]) => [k, v]),
        ['commit', `${m.commit}${m.libDirty ? ' (lib/ had uncommitted changes)' : ''}`],
      ],
    ),
    '',
    busy.length
      ? `**Other processes took more than 5% of the machine's CPU during: ${busy.join(', ')}** — those numbers are ` +
        'skewed (most of all the CPU-bound ones: stdio `spin`, HTTP at 0–5 ms, the in-process overhead).'
      : 'Other processes took less than 5% of the machine\'s CPU during every benchmark (see each section\'s header).',
    '',
    `## Goals: ${met} of ${goalRows.length} met`,
    '',
    table(
      ['benchmark', 'goal', 'target', 'measured', ''],
      goals.map((g) => [g.bench, g.goal, g.target, g.measured, goalMark(g.met) + (g.note ? ` ${g.note}` : '')]),
    ),
    '',
    '## Process warnings',
    '',
    warnings.length
      ? warnings.map((w) => `- ${w}`).join('\n')
      : 'None: no `MaxListenersExceededWarning` (nor any other process warning) in any benchmark process.',
    '',
  ].join('\n');
  const doc = `${header}\n${sections.join('\n')}`;
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, doc);
  console.log(`\n## Goals: ${met} of ${goalRows.length} met\n`);
  process.stderr.write(`\nwrote ${relative(process.cwd(), outFile)} (${fmt(totalS)} s)\n`);
  if (failed) process.exitCode = 1;
}

void main();

/**
 * 2. stdio: each session is a child process running a server that handles one request at a time
 * (MCP_FIXTURE_SERIAL=1). Throughput for 1, 2 and 4 sessions, with a tool that sleeps (I/O-bound) and
 * one that burns CPU (bounded by the cores), plus one session with 8 calls multiplexed on it.
 */
import { join } from 'node:path';
import { cpus } from 'node:os';
import { McpPool } from '../lib';
import { Samples, closedLoop, fmt, median, ms, pct, quantile, table, times, goalsSection } from './lib/stats';
import type { BenchContext, BenchResult, Benchmark, GoalRow } from './lib/types';

const SERVER = join(__dirname, 'servers', 'stdio-cpu-server.cjs');

interface Config {
  key: string;
  sessions: number;
  mcps: number;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const quick = ctx.quick;
  const cores = cpus().length;
  const workMs = 5;
  const concurrency = 8;
  const runs = quick ? 1 : 3;
  const measureMs = quick ? 400 : 1500;
  const sessionCounts = [...new Set([1, 2, Math.min(cores, 8), 4])].sort((a, b) => a - b);
  const configs: Config[] = [
    ...sessionCounts.map((s) => ({ key: `${s}x1`, sessions: s, mcps: 1 })),
    { key: '1x8', sessions: 1, mcps: 8 },
  ];
  const workloads = [
    { key: 'sleep', label: `\`sleep\` ${workMs} ms (waits, no CPU)`, tool: 'sleep', args: { ms: workMs } },
    { key: 'spin', label: `\`spin\` ${workMs} ms of CPU time`, tool: 'spin', args: { ms: workMs } },
  ];
  const out: string[] = [];
  const goals: GoalRow[] = [];
  out.push(
    `Each session is a child process (\`node bench/servers/stdio-cpu-server.cjs\`: the fixture's demo tools and a \`spin\` tool) ` +
      `with MCP_FIXTURE_SERIAL=1, so a server runs one tool call at a time. ${concurrency} callers in a closed loop through ` +
      `\`pool.callTool\`; ${runs} run(s) of ${measureMs} ms per row, the rows interleaved within each run. Ideal = sessions × ` +
      `1000 / ${workMs} calls/s (for \`spin\`, at most ${cores} cores × that). Speed-up is against 1 session in the same run.`,
    '',
  );

  for (const w of workloads) {
    ctx.log(`stdio: ${w.key}, starting ${configs.reduce((s, c) => s + c.sessions, 0)} child processes`);
    const pools = new Map<string, McpPool>();
    const tput = new Map<string, number[]>();
    const speedups = new Map<string, number[]>();
    const lat = new Map<string, Samples>();
    try {
      for (const c of configs) {
        const pool = new McpPool({
          name: `stdio-${c.key}`,
          transport: 'stdio',
          command: process.execPath,
          args: [SERVER],
          env: { MCP_FIXTURE_SERIAL: '1' },
          minSessions: c.sessions,
          maxSessions: c.sessions,
          maxConcurrentPerSession: c.mcps,
          stderr: 'inherit',
        });
        pools.set(c.key, pool);
        await pool.start();
        // Warm-up (JIT in the children and here).
        await closedLoop(concurrency, quick ? 200 : 600, () => pool.callTool(w.tool, w.args));
      }
      for (let r = 0; r < runs; r++) {
        const thisRun = new Map<string, number>();
        for (let i = 0; i < configs.length; i++) {
          const c = configs[(i + r) % configs.length]!;
          const pool = pools.get(c.key)!;
          const res = await closedLoop(concurrency, measureMs, () => pool.callTool(w.tool, w.args));
          if (res.errors) ctx.log(`  ${c.key}: ${res.errors} errors: ${String(res.firstError)}`);
          thisRun.set(c.key, res.opsPerSec);
          (tput.get(c.key) ?? tput.set(c.key, []).get(c.key)!).push(res.opsPerSec);
          (lat.get(c.key) ?? lat.set(c.key, new Samples()).get(c.key)!).pushAll(res.latenciesMs);
        }
        for (const c of configs) (speedups.get(c.key) ?? speedups.set(c.key, []).get(c.key)!).push(thisRun.get(c.key)! / thisRun.get('1x1')!);
      }
    } finally {
      await Promise.all([...pools.values()].map((p) => p.shutdown()));
    }

    const perSession = 1000 / workMs;
    out.push(`### ${w.label}`, '');
    out.push(
      table(
        ['sessions', 'maxConcurrentPerSession', 'calls/s', 'ideal', 'of ideal', 'speed-up vs 1 session', 'p50', 'p99'],
        configs.map((c) => {
          const t = median(tput.get(c.key)!);
          const ideal = (w.key === 'spin' ? Math.min(c.sessions, cores) : c.sessions) * perSession;
          const l = lat.get(c.key)!.view();
          return [c.sessions, c.mcps, fmt(t), fmt(ideal), pct(t / ideal, 0), times(median(speedups.get(c.key)!)), ms(quantile(l, 0.5)), ms(quantile(l, 0.99))];
        }),
      ),
      '',
    );
    for (const s of sessionCounts.filter((s) => s > 1 && s <= cores)) {
      const sp = median(speedups.get(`${s}x1`)!);
      goals.push({
        goal: `stdio ${w.key}: ${s} sessions vs 1 (serial server)`,
        target: `scales with sessions up to the cores (≥ ${fmt(0.9 * s)}× = 90% of linear)`,
        measured: times(sp),
        met: sp >= 0.9 * s,
      });
    }
  }
  out.push(
    '`1 × 8` multiplexes 8 calls on one session: a serial server then queues them itself, so only more sessions (processes) ' +
      'add throughput. Past the core count, `spin` cannot go faster; `sleep` keeps scaling because it does not use the CPU.',
    '',
  );
  out.push(...goalsSection(goals));
  return { markdown: out.join('\n'), goals };
}

const bench: Benchmark = { name: 'stdio', title: '2. stdio: sessions are processes', run };
export default bench;

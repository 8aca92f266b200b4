// The official MCP client conformance scenarios (@modelcontextprotocol/conformance, pinned to 0.1.x: 0.1.14
// to 0.1.16 crash on Node 20), each run by the conformance CLI against test/conformance/pool-client.ts, which
// does the scenario's steps through an McpPool. Every client scenario the installed CLI lists is run: the
// `core` suite (initialize, tools, elicitation defaults, SSE retry and the whole `auth` suite) plus the
// `extensions` (client credentials) and `backcompat` (2025-03-26 authorization) suites. A scenario passes
// when the CLI says so (every check SUCCESS or INFO, no warning, client exit code 0) and the client reports
// that it finished its steps.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLI = join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist/index.js');
const CLIENT = join(__dirname, 'pool-client.ts');
// The CLI splits --command on spaces and appends the scenario's server URL (a loopback URL).
const CLIENT_COMMAND = `${process.execPath} --require tsx/cjs ${CLIENT}`;
/** Per-client deadline inside the CLI; a hung client fails its scenario instead of the whole run. */
const CLIENT_TIMEOUT_MS = 30_000;

/** The `core` suite of the CLI (0.1.13): checked to be a subset of what the CLI lists, all of which runs. */
const CORE_SUITE = [
  'initialize',
  'tools_call',
  'elicitation-sep1034-client-defaults',
  'sse-retry',
  'auth/metadata-default',
  'auth/metadata-var1',
  'auth/metadata-var2',
  'auth/metadata-var3',
  'auth/basic-cimd',
  'auth/scope-from-www-authenticate',
  'auth/scope-from-scopes-supported',
  'auth/scope-omitted-when-undefined',
  'auth/scope-step-up',
  'auth/scope-retry-limit',
  'auth/token-endpoint-auth-basic',
  'auth/token-endpoint-auth-post',
  'auth/token-endpoint-auth-none',
  'auth/resource-mismatch',
  'auth/pre-registration',
];
/** Measures the client's reconnection delay against a 500 ms retry field: run alone, not beside other clients. */
const TIMING_SENSITIVE = new Set(['sse-retry']);

/** The client scenarios of the installed CLI (`conformance list`). */
function listClientScenarios(): string[] {
  const out = execFileSync(process.execPath, [CLI, 'list'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  const section = out.slice(out.indexOf('Client scenarios'));
  return [...section.matchAll(/^\s+- (\S+)\s*$/gm)].map((m) => m[1]!);
}

const SCENARIOS = listClientScenarios();

interface Check {
  id: string;
  name: string;
  description: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string;
  errorMessage?: string;
}

interface ScenarioRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** What the CLI printed (its verdict, the checks, and the client's output when the client failed). */
  output: string;
  checks: Check[];
  clientStdout: string;
  clientStderr: string;
}

let workDir: string;
let stopped = false;
const running = new Set<ChildProcess>();
const runs = new Map<string, Promise<ScenarioRun>>();

function runScenario(scenario: string): Promise<ScenarioRun> {
  if (stopped) return Promise.reject(new Error('the run was stopped'));
  const outDir = join(workDir, String(SCENARIOS.indexOf(scenario)));
  return new Promise<ScenarioRun>((resolvePromise, reject) => {
    // Its own process group (detached), so that afterAll can stop the CLI together with its client.
    const child = spawn(
      process.execPath,
      [CLI, 'client', '--command', CLIENT_COMMAND, '--scenario', scenario, '--timeout', String(CLIENT_TIMEOUT_MS), '-o', outDir],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    running.add(child);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', (error) => {
      running.delete(child);
      reject(error);
    });
    child.once('close', (exitCode, signal) => {
      running.delete(child);
      const dir = findResultDir(outDir);
      const read = (file: string) => (dir ? readFileSync(join(dir, file), 'utf8') : '');
      resolvePromise({
        exitCode,
        signal,
        output,
        checks: dir ? (JSON.parse(read('checks.json')) as Check[]) : [],
        clientStdout: read('stdout.txt'),
        clientStderr: read('stderr.txt'),
      });
    });
  });
}

/** The CLI writes `<out>/<scenario>-<timestamp>/` (a scenario like `auth/x` nests a directory). */
function findResultDir(dir: string): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  if (entries.includes('checks.json')) return dir;
  for (const e of entries) {
    const sub = join(dir, e);
    if (statSync(sub).isDirectory()) {
      const found = findResultDir(sub);
      if (found) return found;
    }
  }
  return undefined;
}

/** Runs `fn`s at most `limit` at a time, in the order they were given. */
function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (active >= limit) await new Promise<void>((res) => waiting.push(res));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Runs the timing-sensitive scenarios one by one first, then the rest a few at a time. */
function scheduleAll(): void {
  let alone: Promise<unknown> = Promise.resolve();
  for (const s of SCENARIOS.filter((s) => TIMING_SENSITIVE.has(s))) {
    const run = alone.then(() => runScenario(s));
    runs.set(s, run);
    alone = run.catch(() => undefined);
  }
  const slot = limiter(Math.max(2, Math.min(4, availableParallelism() + 1)));
  for (const s of SCENARIOS.filter((s) => !TIMING_SENSITIVE.has(s))) runs.set(s, alone.then(() => slot(() => runScenario(s))));
  // Each test awaits its own run; this only keeps a run that fails before its test awaits it from being
  // reported as an unhandled rejection.
  for (const run of runs.values()) run.catch(() => undefined);
}

function describeFailure(scenario: string, run: ScenarioRun, problems: string[]): string {
  // Quoted line by line (and without colours), so that Jest does not take the client's stack traces for ours.
  const quote = (title: string, text: string) => [`--- ${title} ---`, ...text.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n').map((l) => `| ${l}`)];
  return [
    `conformance scenario ${scenario} failed through the pool:`,
    ...problems.map((p) => `  - ${p}`),
    '',
    ...quote('conformance CLI output', run.output),
    ...quote('client stdout', run.clientStdout),
    ...quote('client stderr', run.clientStderr),
  ].join('\n');
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'mcp-pool-conformance-'));
  scheduleAll();
});

afterAll(async () => {
  // Normally every CLI has exited by now. After a failed test, stop the ones still running: each one's
  // process group (the CLI, its shell and its client; all started by this spec), by id.
  stopped = true;
  const exits = [...running].map((child) => new Promise((res) => child.once('close', res)));
  for (const child of running) {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await Promise.all(exits);
  await Promise.allSettled(runs.values());
  rmSync(workDir, { recursive: true, force: true });
});

it('the CLI lists every scenario of the core suite (all listed client scenarios run below)', () => {
  expect(SCENARIOS).toEqual(expect.arrayContaining(CORE_SUITE));
});

it.each(SCENARIOS)('%s passes through the pool', async (scenario) => {
  const run = await runs.get(scenario)!;
  const problems: string[] = [];
  if (run.exitCode !== 0) problems.push(`the CLI exited with ${run.exitCode ?? run.signal}`);
  if (!/OVERALL: PASSED/.test(run.output)) problems.push('the CLI did not report OVERALL: PASSED');
  if (run.checks.length === 0) problems.push('no checks were recorded');
  for (const c of run.checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING'))
    problems.push(`${c.status} ${c.id}: ${c.description}${c.errorMessage ? ` (${c.errorMessage})` : ''}`);
  if (!run.clientStdout.includes(`pool-client: done ${scenario}`)) problems.push('the client did not finish its steps');
  if (problems.length > 0) throw new Error(describeFailure(scenario, run, problems));
}, 90_000);

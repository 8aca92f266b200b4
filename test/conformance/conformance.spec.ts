// The official MCP client conformance scenarios (@modelcontextprotocol/conformance, pinned to 0.1.x: 0.1.14
// to 0.1.16 crash on Node 20), run by the conformance CLI against three client programs that share one
// general agent (general-client.ts: connect, list the tools, call each one, authorize when the user did; the
// same steps for every scenario, configured only by the environment):
//   - the pool as a CommonJS app (pool-client.ts, the library's source),
//   - the pool as an ESM app outside the repository importing `nestjs-mcp-pool` by name (pool-client.mts,
//     with a build of the package made for this run: the pack test rebuilds dist/ and would race us),
//   - the plain SDK (sdk-client.ts), the reference.
// Every client scenario the installed CLI lists is run for each client: the `core` suite (initialize, tools,
// elicitation defaults, SSE retry and the whole `auth` suite) plus `extensions` (client credentials) and
// `backcompat` (2025-03-26 authorization). A scenario passes when the CLI says so (every check SUCCESS or
// INFO, no warning, client exit code 0 unless the scenario accepts a client error). The expected pass set is
// asserted exactly: a scenario that starts failing fails the spec, and so does one that starts passing.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLI = join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist/index.js');
/** Per-client deadline inside the CLI; a hung client fails its scenario instead of the whole run. */
const CLIENT_TIMEOUT_MS = 30_000;

type ClientName = 'pool (CommonJS)' | 'pool (ESM)' | 'plain SDK';
const CLIENTS: ClientName[] = ['pool (CommonJS)', 'pool (ESM)', 'plain SDK'];

/** The core suite of the CLI (0.1.13): checked to be a subset of what the CLI lists, all of which runs. */
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

/**
 * The scenarios every client is expected to fail, and the checks that fail them (nothing else may fail).
 * - auth/basic-cimd: the scenario wants the client to use its client ID metadata document URL (SEP-991) as
 *   client_id, and checks for one URL of its own. The client publishes none (MCP_CLIENT_METADATA_URL is not
 *   set: a deployment would set its own URL there, which this scenario would not accept either), so it
 *   registers dynamically, which the scenario reports as a WARNING.
 */
const EXPECTED_FAILURES: Record<string, string[]> = {
  'auth/basic-cimd': ['cimd-client-id-used'],
};
/** Measures the client's reconnection delay against a 500 ms retry field: run alone, not beside other clients. */
const TIMING_SENSITIVE = new Set(['sse-retry']);

/** The client scenarios of the installed CLI (`conformance list`). */
function listClientScenarios(): string[] {
  const out = execFileSync(process.execPath, [CLI, 'list'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  const section = out.slice(out.indexOf('Client scenarios'));
  return [...section.matchAll(/^\s+- (\S+)\s*$/gm)].map((m) => m[1]!);
}

const SCENARIOS = listClientScenarios();
const EXPECTED_PASSES = SCENARIOS.filter((s) => !(s in EXPECTED_FAILURES));

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
let commands: Record<ClientName, string>;
let stopped = false;
const running = new Set<ChildProcess>();
const runs = new Map<string, Promise<ScenarioRun>>();
const key = (client: ClientName, scenario: string) => `${client}|${scenario}`;

/**
 * An ESM app outside the repository: `nestjs-mcp-pool` (a build of this tree made now, with the repository's
 * package.json) and the repository's other packages in its node_modules, the three client files copied in.
 */
function makeEsmApp(dir: string): string {
  const pkg = join(dir, 'node_modules', 'nestjs-mcp-pool');
  mkdirSync(pkg, { recursive: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(pkg, 'dist')], {
    cwd: ROOT,
    stdio: 'pipe',
    timeout: 120_000,
  });
  copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry !== 'nestjs-mcp-pool') symlinkSync(join(ROOT, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'conformance-esm-app', private: true, type: 'module' }));
  for (const file of ['pool-client.mts', 'general-client.ts', 'oauth-provider.ts']) copyFileSync(join(__dirname, file), join(dir, file));
  return join(dir, 'pool-client.mts');
}

function runScenario(client: ClientName, scenario: string): Promise<ScenarioRun> {
  if (stopped) return Promise.reject(new Error('the run was stopped'));
  const outDir = join(workDir, 'results', String(CLIENTS.indexOf(client)), String(SCENARIOS.indexOf(scenario)));
  return new Promise<ScenarioRun>((resolvePromise, reject) => {
    // Its own process group (detached), so that afterAll can stop the CLI together with its client.
    const child = spawn(
      process.execPath,
      [CLI, 'client', '--command', commands[client], '--scenario', scenario, '--timeout', String(CLIENT_TIMEOUT_MS), '-o', outDir],
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
  for (const client of CLIENTS)
    for (const s of SCENARIOS.filter((s) => TIMING_SENSITIVE.has(s))) {
      const run = alone.then(() => runScenario(client, s));
      runs.set(key(client, s), run);
      alone = run.catch(() => undefined);
    }
  const slot = limiter(Math.max(2, Math.min(4, availableParallelism() + 1)));
  for (const s of SCENARIOS.filter((s) => !TIMING_SENSITIVE.has(s)))
    for (const client of CLIENTS) runs.set(key(client, s), alone.then(() => slot(() => runScenario(client, s))));
  // Each test awaits its own run; this only keeps a run that fails before its test awaits it from being
  // reported as an unhandled rejection.
  for (const run of runs.values()) run.catch(() => undefined);
}

/** What keeps a run from passing: the CLI's verdict, its failed and warned checks, the client's own trouble. */
function problemsOf(run: ScenarioRun): string[] {
  const problems: string[] = [];
  if (run.exitCode !== 0) problems.push(`the CLI exited with ${run.exitCode ?? run.signal}`);
  if (!/OVERALL: PASSED/.test(run.output)) problems.push('the CLI did not report OVERALL: PASSED');
  if (run.checks.length === 0) problems.push('no checks were recorded');
  for (const c of failedChecks(run)) problems.push(`${c.status} ${c.id}: ${c.description}${c.errorMessage ? ` (${c.errorMessage})` : ''}`);
  problems.push(...clientTrouble(run));
  return problems;
}

function failedChecks(run: ScenarioRun): Check[] {
  return run.checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
}

/** The agent must reach its end (it prints its authorization count there) and leave nothing running. */
function clientTrouble(run: ScenarioRun): string[] {
  const trouble: string[] = [];
  if (authorizationRequests(run) === undefined) trouble.push('the client did not run its steps to the end');
  if (/still running 2 s after/.test(run.clientStderr)) trouble.push('the client left resources open after closing');
  return trouble;
}

function authorizationRequests(run: ScenarioRun): number | undefined {
  const m = /^authorization requests: (\d+)$/m.exec(run.clientStdout);
  return m ? Number(m[1]) : undefined;
}

function describeFailure(title: string, run: ScenarioRun, problems: string[]): string {
  // Quoted line by line (and without colours), so that Jest does not take the client's stack traces for ours.
  const quote = (t: string, text: string) => [`--- ${t} ---`, ...text.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n').map((l) => `| ${l}`)];
  return [
    title,
    ...problems.map((p) => `  - ${p}`),
    '',
    ...quote('conformance CLI output', run.output),
    ...quote('client stdout', run.clientStdout),
    ...quote('client stderr', run.clientStderr),
  ].join('\n');
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'mcp-pool-conformance-'));
  const tsxCjs = `${process.execPath} --require tsx/cjs`;
  // The CLI splits --command on spaces and appends the scenario's server URL (a loopback URL).
  commands = {
    'pool (CommonJS)': `${tsxCjs} ${join(__dirname, 'pool-client.ts')}`,
    'pool (ESM)': `${process.execPath} --import tsx ${makeEsmApp(join(workDir, 'esm-app'))}`,
    'plain SDK': `${tsxCjs} ${join(__dirname, 'sdk-client.ts')}`,
  };
  scheduleAll();
}, 150_000);

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
  expect(SCENARIOS).toEqual(expect.arrayContaining(Object.keys(EXPECTED_FAILURES)));
});

describe.each(CLIENTS)('%s', (client) => {
  it.each(EXPECTED_PASSES)('%s passes', async (scenario) => {
    const run = await runs.get(key(client, scenario))!;
    const problems = problemsOf(run);
    if (problems.length > 0) throw new Error(describeFailure(`conformance scenario ${scenario} failed (${client}):`, run, problems));
  }, 150_000);

  it.each(Object.entries(EXPECTED_FAILURES))('%s fails on exactly its known checks (%j)', async (scenario, expected) => {
    const run = await runs.get(key(client, scenario))!;
    const problems: string[] = [];
    if (/OVERALL: PASSED/.test(run.output)) problems.push('the CLI reported OVERALL: PASSED: the scenario passes now; move it out of EXPECTED_FAILURES');
    const failed = [...new Set(failedChecks(run).map((c) => c.id))].sort();
    if (JSON.stringify(failed) !== JSON.stringify([...expected].sort())) problems.push(`failed checks ${JSON.stringify(failed)}, expected ${JSON.stringify(expected)}`);
    problems.push(...clientTrouble(run));
    if (problems.length > 0) throw new Error(describeFailure(`conformance scenario ${scenario} (${client}) did not fail as expected:`, run, problems));
  }, 150_000);
});

it('the pool asks the user to authorize no more often than the plain SDK client, in every scenario', async () => {
  const more: string[] = [];
  for (const scenario of SCENARIOS) {
    const reference = authorizationRequests(await runs.get(key('plain SDK', scenario))!);
    for (const client of CLIENTS.filter((c) => c !== 'plain SDK')) {
      const ours = authorizationRequests(await runs.get(key(client, scenario))!);
      if (ours === undefined || reference === undefined || ours > reference) more.push(`${scenario}: ${client} ${ours ?? '?'}, plain SDK ${reference ?? '?'}`);
    }
  }
  expect(more).toEqual([]);
}, 300_000);

it('prints the counts, and each client passes exactly the expected set', async () => {
  const passed: Record<string, string[]> = {};
  for (const client of CLIENTS) {
    passed[client] = [];
    for (const scenario of SCENARIOS) if (problemsOf(await runs.get(key(client, scenario))!).length === 0) passed[client].push(scenario);
  }
  const lines: string[] = [];
  for (const c of CLIENTS) {
    const failing = SCENARIOS.filter((s) => !passed[c]!.includes(s));
    const retryLimit = runs.has(key(c, 'auth/scope-retry-limit')) ? authorizationRequests(await runs.get(key(c, 'auth/scope-retry-limit'))!) : undefined;
    lines.push(
      `${c}: ${passed[c]!.length}/${SCENARIOS.length} passed${failing.length ? ` (failing: ${failing.join(', ')})` : ''}` +
        `; authorization requests in auth/scope-retry-limit: ${retryLimit ?? '?'}`,
    );
  }
  console.log(`MCP client conformance (@modelcontextprotocol/conformance, ${SCENARIOS.length} client scenarios):\n${lines.join('\n')}`);
  for (const client of CLIENTS) expect({ client, passed: passed[client] }).toEqual({ client, passed: EXPECTED_PASSES });
}, 300_000);

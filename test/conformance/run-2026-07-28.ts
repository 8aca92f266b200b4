// The official client conformance scenarios of the 2026-07-28 revision (@modelcontextprotocol/conformance
// 0.2.x), run against two client programs that share the one general agent (general-client.ts):
//   - the pool, configured with protocol 'auto' (pool-client.ts, MCP_POOL_PROTOCOL=auto: configuration only,
//     the same code path for every scenario),
//   - the plain v2 client with version negotiation on (v2-client.ts), the reference.
// Prints a markdown table: every scenario, and whether each client passed it, then the two counts.
//
// The 0.2 alphas import fs.globSync and crash on Node 20, so the CLI runs on Node 22 (the clients too), taken
// from the environment; nothing is installed into the repository:
//   npm install --prefix /tmp/node22 node@22
//   npm install --prefix /tmp/conf @modelcontextprotocol/conformance@0.2.0-alpha.12
//   CONFORMANCE_NODE=/tmp/node22/node_modules/.bin/node \
//   CONFORMANCE_CLI=/tmp/conf/node_modules/@modelcontextprotocol/conformance/dist/index.js \
//     npx tsx test/conformance/run-2026-07-28.ts
// Not a Jest spec: the run needs a Node this repository does not pin; .ci/run runs it on Node 22. See the
// README, "Protocol eras".
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const NODE = process.env.CONFORMANCE_NODE;
const CLI = process.env.CONFORMANCE_CLI;
if (!NODE || !CLI) {
  process.stderr.write('set CONFORMANCE_NODE (a Node 22 binary) and CONFORMANCE_CLI (conformance 0.2.x dist/index.js)\n');
  process.exit(2);
}
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cjs', 'index.cjs');
const CLIENTS: Record<string, { command: string; env: Record<string, string> }> = {
  "pool (protocol: 'auto')": { command: `${NODE} --require ${TSX} ${join(__dirname, 'pool-client.ts')}`, env: { MCP_POOL_PROTOCOL: 'auto' } },
  'plain v2 client': { command: `${NODE} --require ${TSX} ${join(__dirname, 'v2-client.ts')}`, env: {} },
};

/** The client scenarios the CLI marks for 2026-07-28 (extensions excluded: they are not the revision). */
function scenarios(): string[] {
  const out = execFileSync(NODE!, [CLI!, 'list'], { encoding: 'utf8' });
  const section = out.slice(out.indexOf('Client scenarios'), out.indexOf('Authorization server scenarios'));
  return [...section.matchAll(/^\s+- (\S+) \[([^\]]+)\]\s*$/gm)].filter((m) => m[2]!.split(',').includes('2026-07-28')).map((m) => m[1]!);
}

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

function findChecks(dir: string): Check[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  if (entries.includes('checks.json')) return JSON.parse(readFileSync(join(dir, 'checks.json'), 'utf8')) as Check[];
  for (const e of entries) if (statSync(join(dir, e)).isDirectory()) return findChecks(join(dir, e));
  return undefined;
}

function run(client: string, scenario: string, outDir: string): Promise<{ passed: boolean; failing: string[] }> {
  const { command, env } = CLIENTS[client]!;
  return new Promise((done) => {
    const child = spawn(NODE!, [CLI!, 'client', '--command', command, '--scenario', scenario, '--spec-version', '2026-07-28', '--timeout', '30000', '-o', outDir], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.resume();
    child.stderr.resume();
    child.once('close', (code) => {
      const checks = findChecks(outDir) ?? [];
      const failing = checks.filter((c) => c.status !== 'SUCCESS' && c.status !== 'INFO').map((c) => c.id);
      done({ passed: code === 0 && checks.length > 0 && failing.length === 0, failing });
    });
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mcp-conformance-2026-'));
  const list = scenarios();
  const names = Object.keys(CLIENTS);
  const rows: string[] = [];
  const passes: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  let i = 0;
  /** Scenarios the plain v2 client passes and the pool does not: the pool must pass everything it does. */
  const behind: string[] = [];
  for (const scenario of list) {
    const cells: string[] = [];
    const passedBy = new Set<string>();
    for (const client of names) {
      const r = await run(client, scenario, join(work, String(i++)));
      if (r.passed) passes[client]!++;
      if (r.passed) passedBy.add(client);
      cells.push(r.passed ? 'pass' : `FAIL (${r.failing.slice(0, 3).join(', ') || 'client error'})`);
    }
    if (passedBy.has(names[1]!) && !passedBy.has(names[0]!)) behind.push(scenario);
    rows.push(`| ${scenario} | ${cells.join(' | ')} |`);
    process.stderr.write(`${scenario}: ${cells.join(' / ')}\n`);
  }
  const out = [
    `Client scenarios of 2026-07-28 (${list.length}), conformance ${JSON.parse(readFileSync(resolve(CLI!, '../../package.json'), 'utf8')).version}, Node ${execFileSync(NODE!, ['--version'], { encoding: 'utf8' }).trim()}`,
    '',
    `| scenario | ${names.join(' | ')} |`,
    `| --- | ${names.map(() => '---').join(' | ')} |`,
    ...rows,
    `| **passed** | ${names.map((n) => `**${passes[n]} / ${list.length}**`).join(' | ')} |`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  // A check, not only a report (CI runs it on Node 22): the pool passes at least what the plain client passes.
  if (behind.length) {
    process.stderr.write(`the pool fails what the plain v2 client passes: ${behind.join(', ')}\n`);
    process.exitCode = 1;
  }
}

void main();

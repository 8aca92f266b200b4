// protocol: 'auto' on stdio, one test body against a v2 2026-07-28-only stdio server and the SDK 1.32 stdio
// server: the era is found on the session's own pipe (no extra child per probe), later children connect
// with the cached verdict, each caller's handler answers its input requests, and no child survives.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpPool } from '../../lib';
import { isAlive, textOf, until } from '../support/pids';

const FIXTURES = join(__dirname, '..', 'fixtures');

const cases = [
  { name: 'v2 2026-07-28-only stdio server', file: 'v2-stdio-server.cjs', era: 'modern' as const, countsChildren: true },
  { name: 'SDK 1.32 stdio server', file: 'stdio-server.cjs', era: 'legacy' as const, countsChildren: false },
];

describe.each(cases)("protocol: 'auto' over stdio against the $name", (c) => {
  let dir: string;
  let pool: McpPool | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcp-v2-stdio-'));
  });
  afterEach(async () => {
    await pool?.shutdown();
    pool = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const makePool = (minSessions: number) =>
    (pool = new McpPool({
      name: 'stdio-eras',
      transport: 'stdio',
      command: process.execPath,
      args: [join(FIXTURES, c.file)],
      env: { MCP_V2_PIDFILE: join(dir, 'pids') },
      protocol: 'auto',
      minSessions,
      maxSessions: 3,
      healthCheckIntervalMs: 0,
      stderr: 'ignore',
      onElicitation: async () => ({ action: 'accept', content: { name: 'pool-level' } }),
    }));

  it('speaks the era of the server, spawning one child per session and no probe sibling', async () => {
    const p = makePool(3);
    await p.start();
    expect(p.protocolEra).toBe(c.era);
    expect(textOf(await p.callTool('echo', { text: 'hi' }))).toBe('hi');
    const pids = p.debugSnapshot().map((r) => r.pid);
    expect(new Set(pids).size).toBe(3);
    if (c.countsChildren) expect(readFileSync(join(dir, 'pids'), 'utf8').trim().split('\n').map(Number).sort()).toEqual([...pids].sort());
  });

  it('answers input requests with the handler of the caller that caused them, two callers at once', async () => {
    const p = makePool(2);
    await p.start();
    const ask = (name: string, ms: number) =>
      p.callTool('elicit_name', { question: 'who?' }, { onElicitation: () => new Promise((r) => setTimeout(() => r({ action: 'accept', content: { name } }), ms)) });
    const [a, b] = await Promise.all([ask('alice', 60), ask('bob', 10)]);
    expect([textOf(a), textOf(b)]).toEqual(['accept:alice', 'accept:bob']);
  });

  it('leaves no child behind after shutdown', async () => {
    const p = makePool(2);
    await p.start();
    const pids = p.debugSnapshot().map((r) => r.pid!);
    await p.shutdown();
    pool = undefined;
    await until(() => pids.every((pid) => !isAlive(pid)), 5000, 'every child gone');
  });
});

describe("protocol: 'auto' over stdio against a 2025 server that exits on any request before initialize", () => {
  let pool: McpPool | undefined;
  afterEach(async () => {
    await pool?.shutdown();
    pool = undefined;
  });

  it('falls back to initialize on a fresh child once, then connects every later child without a probe', async () => {
    pool = new McpPool({
      name: 'strict-stdio',
      transport: 'stdio',
      command: process.execPath,
      args: [join(FIXTURES, 'stdio-server.cjs')],
      env: { MCP_FIXTURE_MODE: 'exit-on-probe' },
      protocol: 'auto',
      minSessions: 2,
      maxSessions: 3,
      healthCheckIntervalMs: 0,
      stderr: 'ignore',
    });
    await pool.start();
    expect(pool.protocolEra).toBe('legacy');
    expect(pool.metrics.snapshot()).toMatchObject({ total: 2, sessionCreateFailures: 0 });
    expect(textOf(await pool.callTool('echo', { text: 'strict' }))).toBe('strict');
  });
});

// The pool over stdio: every session is a real child process running the SDK's McpServer.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpPool, SessionLostError, type McpPoolOptions } from '../../lib';
import { isAlive, textOf, until } from '../support/pids';

const SERVER = join(__dirname, '..', 'fixtures', 'stdio-server.cjs');
let pool: McpPool | undefined;

function stdioPool(options: Partial<McpPoolOptions> = {}): McpPool {
  pool = new McpPool({
    name: 'files',
    transport: 'stdio',
    command: process.execPath,
    args: [SERVER],
    minSessions: 2,
    maxSessions: 2,
    healthCheckIntervalMs: 0,
    ...options,
  });
  return pool;
}

async function pidOf(p: McpPool): Promise<number> {
  return Number(textOf(await p.callTool('pid')));
}

afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
});

it('warms one child process per session', async () => {
  const p = stdioPool();
  await p.start();
  const pids = await Promise.all([
    p.session(async (l) => Number(textOf(await l.callTool('pid')))),
    p.session(async (l) => Number(textOf(await l.callTool('pid')))),
  ]);
  expect(new Set(pids).size).toBe(2);
  expect(pids.every(isAlive)).toBe(true);
  expect(textOf(await p.callTool('echo', { text: 'over stdio' }))).toBe('over stdio');
});

it('fails the caller with a typed error when its child is SIGKILLed mid-call, then serves on a new child', async () => {
  const p = stdioPool({ minSessions: 1, maxSessions: 1 });
  await p.start();
  const pid = await pidOf(p);
  const call = p.callTool('sleep', { ms: 5000 });
  await new Promise((r) => setTimeout(r, 50));
  process.kill(pid, 'SIGKILL');
  const err = await call.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SessionLostError);
  expect((err as SessionLostError).mayHaveRun).toBe(true);
  const next = await pidOf(p);
  expect(next).not.toBe(pid);
  expect(p.metrics.snapshot()).toMatchObject({ sessionsDestroyed: 1, reconnectCount: 1 });
});

it('leaves no child process after shutdown, even with calls in flight', async () => {
  const p = stdioPool({ drainTimeoutMs: 100 });
  await p.start();
  const pids = await Promise.all([p.session(async (l) => Number(textOf(await l.callTool('pid')))), pidOf(p)]);
  const inflight = p.callTool('sleep', { ms: 10_000 }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 30));
  await p.shutdown();
  expect(await inflight).toMatchObject({ name: 'PoolClosedError' });
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
});

it('replaces a child that exits right after initialize', async () => {
  const p = stdioPool({
    minSessions: 1,
    maxSessions: 1,
    env: { MCP_FIXTURE_MODE: 'exit-after-initialize' },
    retryBaseDelayMs: 10,
    retryMaxDelayMs: 50,
    failureThreshold: 100,
  });
  await p.start();
  await until(() => p.metrics.snapshot().sessionsDestroyed + p.metrics.snapshot().sessionCreateFailures >= 2, 5000, 'children to die');
  expect(p.state).toBe('running');
});

describe("stderr: 'pipe'", () => {
  it('reads the child’s stderr to the logger line by line, so a chatty child (1 MB) never blocks', async () => {
    const lines: string[] = [];
    const logger = { log: (m: string) => lines.push(m), warn: () => undefined, error: () => undefined };
    const p = stdioPool({ minSessions: 1, maxSessions: 1, stderr: 'pipe', logger });
    await p.start();
    expect(textOf(await p.callTool('spam_stderr', { bytes: 1_000_000 }, { timeoutMs: 10_000 }))).toBe('done');
    await until(() => lines.some((l) => l.includes('spam done')), 5000, 'the last stderr line');
    expect(lines.filter((l) => l.includes('xxxx')).length).toBe(10_000);
    expect(lines.every((l) => l.length < 5000)).toBe(true);
    // Still answering, and it shuts down cleanly.
    expect(textOf(await p.callTool('echo', { text: 'after' }))).toBe('after');
    const pid = await pidOf(p);
    await p.shutdown();
    expect(isAlive(pid)).toBe(false);
  });
});

describe('children in process groups of their own', () => {
  /** Process group id of `pid` (Linux /proc). */
  function pgidOf(pid: number): number {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  }

  /** Our child processes running the stdio fixture (ppid is this process). */
  function fixtureChildren(): number[] {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('stdio-server.cjs');
        } catch {
          return false; // gone meanwhile
        }
      });
  }

  it('spawns each child as the leader of its own process group (a Ctrl-C to ours does not reach it)', async () => {
    const p = stdioPool({ minSessions: 1, maxSessions: 1 });
    await p.start();
    const pid = await pidOf(p);
    expect(pgidOf(pid)).toBe(pid);
    expect(pgidOf(pid)).not.toBe(pgidOf(process.pid));
  });

  it('leaves no grandchild behind: a server started through sh -c that ignores the end of stdin is stopped with its group', async () => {
    const p = stdioPool({
      minSessions: 1,
      maxSessions: 1,
      command: '/bin/sh',
      // `; true` keeps sh from exec-ing node: the server is sh's child, our grandchild.
      args: ['-c', `"${process.execPath}" "${SERVER}"; true`],
      env: { MCP_FIXTURE_IGNORE_STDIN_END: '1' },
    });
    await p.start();
    const grandchild = await pidOf(p);
    const sessionPid = p.debugSnapshot()[0]!.pid!;
    expect(grandchild).not.toBe(sessionPid); // the server really is a grandchild
    await p.shutdown();
    expect(isAlive(grandchild)).toBe(false);
    expect(isAlive(sessionPid)).toBe(false);
  });

  it('shutdown() waits for creations it aborted: no half-started child is alive when it resolves', async () => {
    const p = stdioPool({ minSessions: 2, maxSessions: 2, env: { MCP_FIXTURE_STARTUP_DELAY_MS: '400' } });
    const starting = p.start().catch(() => undefined);
    await until(() => fixtureChildren().length > 0, 5000, 'a child to be spawned');
    const spawned = fixtureChildren();
    await p.shutdown();
    expect(spawned.filter(isAlive)).toEqual([]);
    await starting;
  });
});

describe('onSessionReady', () => {
  it('fails the creation when the child dies during the hook, instead of adding a dead session', async () => {
    const p = stdioPool({
      minSessions: 1,
      maxSessions: 1,
      failFast: true,
      onSessionReady: async (lease) => {
        await lease.callTool('exit', { code: 1, delayMs: 0 }); // answers, then the child exits
        await new Promise((r) => setTimeout(r, 300)); // the exit lands while the hook still runs
      },
    });
    await expect(p.start()).rejects.toThrow(/could not create an MCP session: the MCP server process exited/);
  });

  it('does not count the hook’s requests as callers’ calls', async () => {
    const p = stdioPool({ minSessions: 1, maxSessions: 1, onSessionReady: async (lease) => void (await lease.callTool('echo', { text: 'warm' })) });
    await p.start();
    expect(p.metrics.snapshot()).toMatchObject({ calls: 0, sessionsCreated: 1 });
    await p.callTool('echo', { text: 'mine' });
    expect(p.metrics.snapshot().calls).toBe(1);
  });
});

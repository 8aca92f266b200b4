// Fault injection over stdio: children killed under load, children that exit after initialize, children
// that write garbage to stdout. Every call settles once, the pool recovers, and no child outlives it.
import { join } from 'node:path';
import { McpPool, type McpPoolOptions } from '../../lib';
import { expectLeasesBalanced, startLoad } from '../support/load';
import { isAlive, textOf, until } from '../support/pids';

const SERVER = join(__dirname, '..', 'fixtures', 'stdio-server.cjs');
let pool: McpPool | undefined;
const seenPids = new Set<number>();

function stdioPool(options: Partial<McpPoolOptions> = {}): McpPool {
  pool = new McpPool({
    name: 'stdio-faults',
    transport: 'stdio',
    command: process.execPath,
    args: [SERVER],
    minSessions: 2,
    maxSessions: 3,
    healthCheckIntervalMs: 0,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 200,
    recoveryTimeoutMs: 300,
    acquireTimeoutMs: 3000,
    ...options,
  });
  return pool;
}

async function pidOf(p: McpPool): Promise<number> {
  const pid = Number(textOf(await p.callTool('pid')));
  seenPids.add(pid);
  return pid;
}

afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  // No child survives its pool.
  for (const pid of seenPids) expect(isAlive(pid)).toBe(false);
  seenPids.clear();
});

it('3a. children SIGKILLed under load: every call settles, the pool refills with new children', async () => {
  const p = stdioPool();
  await p.start();
  const load = startLoad(6, () => p.callTool('sleep', { ms: 10 }));
  await until(() => load.report.ok > 20, 5000, 'load');
  for (let round = 0; round < 3; round++) {
    const pid = await pidOf(p);
    process.kill(pid, 'SIGKILL');
    const okBefore = load.report.ok;
    await until(() => load.report.ok > okBefore + 10, 5000, 'calls to continue');
  }
  const report = await load.stop();
  expect(report.untyped).toEqual([]);
  expect(report.unsettled).toBe(0);
  expectLeasesBalanced(p);
  expect(Object.keys(report.errors).every((name) => name === 'SessionLostError')).toBe(true);
  await until(() => p.metrics.snapshot().total >= 2, 5000, 'refill');
  expect((await p.checkHealth()).status).toBe('up');
  expect(p.metrics.snapshot().sessionsDestroyed).toBeGreaterThanOrEqual(3);
  await pidOf(p);
  await pidOf(p);
});

it('3b. a child that exits right after initialize: calls keep failing typed, never hang, and the pool keeps trying', async () => {
  const p = stdioPool({ minSessions: 1, maxSessions: 1, env: { MCP_FIXTURE_MODE: 'exit-after-initialize' }, acquireTimeoutMs: 500 });
  await p.start();
  const load = startLoad(3, () => p.callTool('echo', { text: 'x' }), 20);
  await until(() => load.report.settled >= 10, 10_000, 'calls to settle');
  const report = await load.stop();
  expect(report.untyped).toEqual([]);
  expect(report.ok).toBe(0);
  expect(p.state).toBe('running');
  expect(p.metrics.snapshot().sessionsDestroyed + p.metrics.snapshot().sessionCreateFailures).toBeGreaterThanOrEqual(2);
});

it('3c. a child that writes garbage to stdout between messages still serves its calls', async () => {
  const p = stdioPool({ minSessions: 1, maxSessions: 1, env: { MCP_FIXTURE_MODE: 'garbage', MCP_FIXTURE_GARBAGE_MS: '5' } });
  await p.start();
  const load = startLoad(4, () => p.callTool('echo', { text: 'through the noise' }));
  await until(() => load.report.ok > 40, 5000, 'calls');
  const report = await load.stop();
  expect(report.untyped).toEqual([]);
  expect(report.errors).toEqual({});
  await pidOf(p);
});

it('8. shutdown under load kills every child, even with calls in flight', async () => {
  const p = stdioPool({ drainTimeoutMs: 100 });
  await p.start();
  await Promise.all([pidOf(p), pidOf(p)]);
  const load = startLoad(6, () => p.callTool('sleep', { ms: 50 }), 0);
  await until(() => load.report.ok > 10, 5000, 'load');
  await p.shutdown();
  const report = await load.stop();
  expect(report.untyped).toEqual([]);
  expect(report.unsettled).toBe(0);
  expectLeasesBalanced(p);
});

// Event hooks and the debug snapshot, against a real server.
import { McpPool, type McpPoolEvents } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { until } from '../support/pids';

let server: TestHttpServer;
let pool: McpPool | undefined;

beforeEach(async () => {
  server = await startHttpMcpServer();
});
afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  await server.close();
});

it('fires each event once, in order, with a scripted sequence', async () => {
  pool = new McpPool({ name: 'ev', endpoint: server.url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0 });
  const seen: string[] = [];
  const names: Array<keyof McpPoolEvents> = ['sessionCreated', 'sessionDestroyed', 'borrow', 'return', 'callCompleted'];
  for (const n of names) pool.events.on(n, (e) => seen.push(`${n}${'reason' in e ? `:${e.reason}` : ''}${'method' in e ? `:${e.method}` : ''}`));
  await pool.start();
  await pool.callTool('echo', { text: 'a' });
  await server.forgetSessions();
  await pool.callTool('echo', { text: 'b' }); // lost (404), retried on a new session
  await pool.shutdown();
  expect(seen).toEqual([
    'sessionCreated',
    'borrow',
    'callCompleted:tools/call',
    'return',
    'borrow',
    'sessionDestroyed:lost',
    'callCompleted:tools/call',
    'return',
    'sessionCreated',
    'borrow',
    'callCompleted:tools/call',
    'return',
    'sessionDestroyed:shutdown',
  ]);
});

it('reports circuit transitions and creation failures', async () => {
  await server.stop();
  pool = new McpPool({
    name: 'ev',
    endpoint: server.url,
    minSessions: 1,
    healthCheckIntervalMs: 0,
    failureThreshold: 2,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 2,
    recoveryTimeoutMs: 50,
  });
  const transitions: string[] = [];
  let failures = 0;
  pool.events.on('circuitStateChanged', (e) => transitions.push(`${e.from}->${e.to}`));
  pool.events.on('sessionCreateFailed', () => failures++);
  await pool.start();
  await until(() => transitions.length >= 1, 2000, 'the circuit to open');
  await server.restart();
  await until(() => pool!.metrics.snapshot().total === 1, 3000, 'recovery');
  expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  expect(failures).toBe(2);
});

it('is not affected by a listener that throws or rejects', async () => {
  const warnings: string[] = [];
  pool = new McpPool({
    name: 'ev',
    endpoint: server.url,
    minSessions: 1,
    healthCheckIntervalMs: 0,
    logger: { log: () => undefined, warn: (m) => warnings.push(m), error: () => undefined },
  });
  let after = 0;
  pool.events.on('borrow', () => {
    throw new Error('bad listener');
  });
  pool.events.on('return', async () => Promise.reject(new Error('bad async listener')));
  pool.events.on('borrow', () => after++);
  await pool.start();
  const result = await pool.callTool('echo', { text: 'fine' });
  expect(result.isError).toBeFalsy();
  expect(after).toBe(1);
  await until(() => warnings.length === 2, 1000, 'the listener errors to be logged');
  expect(warnings[0]).toMatch(/a listener of "borrow" threw: bad listener/);
});

it('describes each session in debugSnapshot without secrets', async () => {
  pool = new McpPool({ name: 'dbg', endpoint: server.url, minSessions: 2, healthCheckIntervalMs: 0, auth: 'tok-secret-1' });
  await pool.start();
  const lease = await pool.acquire();
  const rows = pool.debugSnapshot();
  expect(rows).toHaveLength(2);
  expect(rows.map((r) => r.inFlight).sort()).toEqual([0, 1]);
  expect(rows[0]).toMatchObject({ pool: 'dbg', state: 'ready', partition: undefined });
  const text = JSON.stringify(rows);
  expect(text).not.toMatch(/tok-secret-1/);
  for (const id of server.sessionIds()) expect(text).not.toContain(id);
  lease.release();
});

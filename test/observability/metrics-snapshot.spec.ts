// metrics.snapshot() after a scripted sequence against a real server: every key, exact counts.
import { McpPool } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { SCENARIO, runScenario } from './support/scenario';

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

const SNAPSHOT_KEYS = [
  'acquireTimeouts',
  'active',
  'avgBorrowWaitMs',
  'borrowCount',
  'borrowWaitMs',
  'cacheHitRate',
  'cacheHits',
  'cacheMisses',
  'cacheRefreshCount',
  'cacheWaiters',
  'callErrors',
  'callLatencyMs',
  'callTimeouts',
  'calls',
  'circuitState',
  'creating',
  'errors',
  'healthCheckCount',
  'healthCheckFailures',
  'idle',
  'inFlight',
  'partitions',
  'pool',
  'reconnectCount',
  'recycledCount',
  'retryAttempts',
  'returnCount',
  'sessionCreateFailures',
  'sessionsCreated',
  'sessionsDestroyed',
  'state',
  'total',
  'uptimeMs',
  'waiting',
];

it('has every key and exact counts after a scripted sequence', async () => {
  pool = new McpPool({ name: 'snap', endpoint: server.url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0 });
  await pool.start();
  await runScenario(pool);
  const s = pool.metrics.snapshot();

  expect(Object.keys(s).sort()).toEqual([...SNAPSHOT_KEYS].sort());
  expect(s).toMatchObject({
    pool: 'snap',
    state: 'running',
    circuitState: 'closed',
    partitions: 0,
    total: 1,
    idle: 1,
    active: 0,
    inFlight: 0,
    waiting: 0,
    creating: 0,
    borrowCount: SCENARIO.borrows,
    returnCount: SCENARIO.borrows,
    calls: SCENARIO.calls,
    callErrors: SCENARIO.callErrors,
    callTimeouts: SCENARIO.callTimeouts,
    acquireTimeouts: SCENARIO.acquireTimeouts,
    errors: SCENARIO.errors,
    cacheHits: SCENARIO.cacheHits,
    cacheMisses: SCENARIO.cacheMisses,
    cacheHitRate: 0.333,
    cacheRefreshCount: SCENARIO.cacheRefreshes,
    cacheWaiters: 0,
    sessionsCreated: SCENARIO.sessionsCreated,
    sessionsDestroyed: 0,
    sessionCreateFailures: 0,
    reconnectCount: 0,
    retryAttempts: 0,
    healthCheckCount: 0,
    healthCheckFailures: 0,
    recycledCount: 0,
  });
  // Percentiles: one sample per borrow and per call; the timed-out call took at least its 50 ms deadline.
  expect(s.borrowWaitMs.count).toBe(SCENARIO.borrows);
  expect(s.callLatencyMs.count).toBe(SCENARIO.calls);
  expect(s.callLatencyMs.max).toBeGreaterThanOrEqual(50);
  expect(s.callLatencyMs.p50).toBeLessThanOrEqual(s.callLatencyMs.p95);
  expect(s.callLatencyMs.p95).toBeLessThanOrEqual(s.callLatencyMs.p99);
  expect(s.callLatencyMs.p99).toBeLessThanOrEqual(s.callLatencyMs.max);
  expect(s.avgBorrowWaitMs).toBeGreaterThanOrEqual(0);
  // The server saw exactly the calls the pool counted (and no retry).
  expect(server.recorder.count('echo')).toBe(3);
  expect(server.recorder.count('sleep')).toBe(1);
  expect(server.stats.requestsByMethod['prompts/list']).toBe(1);
});

it('is a copy, and reset() zeroes counters and histograms but not gauges', async () => {
  pool = new McpPool({ name: 'snap', endpoint: server.url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0 });
  await pool.start();
  await pool.callTool('echo', { text: 'x' });
  const before = pool.metrics.snapshot();
  await pool.callTool('echo', { text: 'y' });
  expect(before.calls).toBe(1);
  expect(before.callLatencyMs.count).toBe(1);

  pool.metrics.reset();
  const after = pool.metrics.snapshot();
  expect(after).toMatchObject({ calls: 0, borrowCount: 0, returnCount: 0, sessionsCreated: 0, errors: 0, total: 1, idle: 1 });
  expect(after.callLatencyMs).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  expect(after.borrowWaitMs.count).toBe(0);
});

it('counts the sessions destroyed at shutdown', async () => {
  pool = new McpPool({ name: 'snap', endpoint: server.url, minSessions: 2, maxSessions: 2, healthCheckIntervalMs: 0 });
  await pool.start();
  await pool.shutdown();
  expect(pool.metrics.snapshot()).toMatchObject({ state: 'closed', sessionsCreated: 2, sessionsDestroyed: 2, total: 0, idle: 0 });
});

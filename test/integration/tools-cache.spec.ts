// The tools/prompts/resources cache against a real server: pagination, list_changed, single flight,
// invalidation on session rebuild, hit/miss counters.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { McpPool, runWithMcpHeaders, type McpPoolOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';

let server: TestHttpServer | undefined;
let pool: McpPool | undefined;
const servers: McpServer[] = [];

function makePool(options: Partial<McpPoolOptions> = {}): McpPool {
  pool = new McpPool({ name: 'cache', endpoint: server!.url, minSessions: 1, maxSessions: 2, healthCheckIntervalMs: 0, ...options });
  return pool;
}

afterEach(async () => {
  await pool?.shutdown();
  await server?.close();
  pool = server = undefined;
  servers.length = 0;
});

it('follows nextCursor through every page', async () => {
  const pageSize = 2;
  server = await startHttpMcpServer({
    configureServer: (s) => {
      // Replace McpServer's single-page tools/list with a paginated one over the same tools.
      s.server.setRequestHandler(ListToolsRequestSchema, async (req) => {
        const all: Tool[] = ['t1', 't2', 't3', 't4', 't5'].map((name) => ({ name, inputSchema: { type: 'object' } }));
        const start = Number(req.params?.cursor ?? 0);
        const next = start + pageSize;
        return { tools: all.slice(start, next), ...(next < all.length ? { nextCursor: String(next) } : {}) };
      });
    },
  });
  const p = makePool({ minSessions: 0 });
  await p.start();
  const tools = await p.listTools();
  expect(tools.map((t) => t.name)).toEqual(['t1', 't2', 't3', 't4', 't5']);
  expect(server.stats.requestsByMethod['tools/list']).toBe(3 * 2); // 3 pages at session creation, 3 for listTools
});

it('shows a tool added on the server at once after notifications/tools/list_changed, and reports the change', async () => {
  server = await startHttpMcpServer({ configureServer: (s) => servers.push(s) });
  const changes: Array<{ added: string[] }> = [];
  const p = makePool({
    minSessions: 1,
    maxSessions: 1,
    toolCacheTtlMs: 600_000,
    onToolsChanged: (tools, previous) =>
      changes.push({ added: tools.filter((t) => !previous.some((o) => o.name === t.name)).map((t) => t.name) }),
  });
  await p.start();
  expect((await p.listTools()).some((t) => t.name === 'fresh')).toBe(false);
  // Registering a tool on a connected McpServer sends notifications/tools/list_changed to its client.
  for (const s of servers) s.registerTool('fresh', { inputSchema: { x: z.string() } }, async () => ({ content: [] }));
  // The notification arrives on the session's event stream shortly after: poll the (otherwise fresh) cache.
  let tools = await p.listTools();
  for (let i = 0; i < 50 && !tools.some((t) => t.name === 'fresh'); i++) {
    await new Promise((r) => setTimeout(r, 10));
    tools = await p.listTools();
  }
  expect(tools.some((t) => t.name === 'fresh')).toBe(true);
  expect(changes).toEqual([{ added: ['fresh'] }]);
});

it('makes exactly one tools/list request for 50 concurrent listTools on a cold cache', async () => {
  server = await startHttpMcpServer();
  const p = makePool({ minSessions: 2, maxSessions: 2, maxConcurrentPerSession: 4 });
  await p.start();
  p.invalidateToolsCache();
  const before = server.stats.requestsByMethod['tools/list'] ?? 0;
  const lists = await Promise.all(Array.from({ length: 50 }, () => p.listTools()));
  expect(server.stats.requestsByMethod['tools/list']).toBe(before + 1);
  expect(new Set(lists).size).toBe(1);
  expect(p.metrics.snapshot()).toMatchObject({ cacheMisses: 50, cacheWaiters: 49, cacheHits: 0 });
  await p.listTools();
  expect(p.metrics.snapshot()).toMatchObject({ cacheHits: 1, cacheHitRate: 0.02 });
});

it('refetches after the TTL, and on every call when the TTL is 0', async () => {
  server = await startHttpMcpServer();
  const p = makePool({ toolCacheTtlMs: 0 });
  await p.start();
  const before = server.stats.requestsByMethod['tools/list'] ?? 0;
  await p.listTools();
  await p.listTools();
  expect(server.stats.requestsByMethod['tools/list']).toBe(before + 2);
});

it('is invalidated when a session is rebuilt', async () => {
  server = await startHttpMcpServer();
  const p = makePool({ minSessions: 1, maxSessions: 1 });
  await p.start();
  await p.listTools();
  await server.forgetSessions();
  await p.callTool('echo', { text: 'rebuild' });
  const before = server.stats.requestsByMethod['tools/list'] ?? 0;
  const misses = p.metrics.snapshot().cacheMisses;
  await p.listTools();
  // the rebuilt session listed its tools at creation, after the invalidation: that list serves the cache
  expect(server.stats.requestsByMethod['tools/list']).toBe(before);
  expect(p.metrics.snapshot().cacheMisses).toBe(misses);
  expect(p.metrics.snapshot().sessionsDestroyed).toBe(1);
});

it('caches prompts and resources the same way', async () => {
  server = await startHttpMcpServer({
    configureServer: (s) => {
      s.registerPrompt('greet', { description: 'says hi' }, async () => ({ messages: [] }));
      s.registerResource('readme', 'file:///readme', {}, async (uri) => ({ contents: [{ uri: uri.href, text: 'hi' }] }));
    },
  });
  const p = makePool();
  await p.start();
  expect((await p.listPrompts()).map((x) => x.name)).toEqual(['greet']);
  expect((await p.listResources()).map((x) => x.uri)).toEqual(['file:///readme']);
  await p.listPrompts();
  await p.listResources();
  expect(server.stats.requestsByMethod['prompts/list']).toBe(1);
  expect(server.stats.requestsByMethod['resources/list']).toBe(1);
});

describe('the shared list fetch belongs to no caller', () => {
  it('a caller that aborts gives up alone: another caller joined to the same fetch still gets the tools', async () => {
    server = await startHttpMcpServer();
    const p = makePool();
    await p.start();
    p.invalidateToolsCache();
    server.setDelayMs(200); // every POST, so the fetch is still running when A aborts
    const ac = new AbortController();
    const a = p.listTools({ signal: ac.signal });
    const b = p.listTools(); // joins A's fetch (a cache waiter)
    setTimeout(() => ac.abort(new Error('A gave up')), 50);
    await expect(a).rejects.toThrow(/aborted/);
    expect((await b).map((t) => t.name)).toContain('echo');
    expect(p.metrics.snapshot().cacheWaiters).toBeGreaterThanOrEqual(1);
  });

  it('a caller’s deadline bounds only its own wait', async () => {
    server = await startHttpMcpServer();
    const p = makePool();
    await p.start();
    p.invalidateToolsCache();
    server.setDelayMs(200);
    const a = p.listTools({ timeoutMs: 30 });
    const b = p.listTools();
    await expect(a).rejects.toThrow(/timed out after 30 ms/);
    expect((await b).length).toBeGreaterThan(0);
  });

  it('carries no caller’s headers: the cached list is not one tenant’s', async () => {
    server = await startHttpMcpServer();
    const p = makePool({ minSessions: 1 });
    await p.start();
    p.invalidateToolsCache();
    const before = server.stats.requestLog.length;
    await runWithMcpHeaders({ 'x-tenant-id': 'acme', 'x-request-id': 'r-1' }, () => p.listTools());
    const sent = server.stats.requestLog.slice(before);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((r) => r.headers['x-tenant-id'] !== undefined || r.headers['x-request-id'] !== undefined)).toEqual([]);
  });

  it('runs under one pool-level deadline for every page together (callTimeoutMs), whoever asked', async () => {
    server = await startHttpMcpServer();
    const p = makePool({ callTimeoutMs: 300 });
    await p.start();
    p.invalidateToolsCache();
    server.setDelayMs(1000);
    await expect(p.listTools()).rejects.toThrow(/tools\/list \(every page\) timed out after 300 ms/);
    server.setDelayMs(0);
    expect((await p.listTools()).length).toBeGreaterThan(0);
  });
});

describe('a server that never stops paging', () => {
  function pagingServer(mode: { endless: boolean; cursor: (n: number) => string }) {
    return startHttpMcpServer({
      configureServer: (s) => {
        s.server.setRequestHandler(ListToolsRequestSchema, async (req) => {
          const n = Number(req.params?.cursor?.replace(/\D/g, '') || 0);
          const tools: Tool[] = [{ name: `t${n}`, inputSchema: { type: 'object' } }];
          // Well-behaved while sessions are created (one page), broken once the test says so.
          return mode.endless ? { tools, nextCursor: mode.cursor(n + 1) } : { tools };
        });
      },
    });
  }

  it('stops after 1000 pages with a typed error, and the pool keeps serving', async () => {
    const mode = { endless: false, cursor: (n: number) => `page-${n}` };
    server = await pagingServer(mode);
    const p = makePool({ minSessions: 1, maxSessions: 1 });
    await p.start();
    p.invalidateToolsCache();
    mode.endless = true;
    await expect(p.listTools()).rejects.toMatchObject({ name: 'McpRequestError', message: expect.stringMatching(/more than 1000 pages/) });
    mode.endless = false;
    expect(await p.listTools()).toHaveLength(1); // the lease came back, and the session is fine
  });

  it('stops at a repeated cursor', async () => {
    const mode = { endless: false, cursor: () => 'again' };
    server = await pagingServer(mode);
    const p = makePool({ minSessions: 1, maxSessions: 1 });
    await p.start();
    p.invalidateToolsCache();
    mode.endless = true;
    await expect(p.listTools()).rejects.toThrow(/repeated a nextCursor/);
  });
});

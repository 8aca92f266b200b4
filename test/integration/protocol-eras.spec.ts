// One pool configuration (protocol: 'auto') and one test body against three real servers on 127.0.0.1: a
// 2026-07-28-only server (v2 createMcpHandler, legacy: 'reject'), a dual-era v2 server, and the SDK 1.32
// stateful server. What differs per server is only what the server is: its era, and whether it sends cache
// hints.
import { McpPool, type McpPoolOptions } from '../../lib';
import { startHttpMcpServer } from '../fixtures/http-mcp-server';
import { startV2HttpServer } from '../fixtures/v2-http-server';
import { textOf, until } from '../support/pids';

interface Target {
  readonly url: URL;
  openSockets(): number;
  restart(): Promise<void>;
  close(): Promise<void>;
  /** Server-side count of a JSON-RPC method. */
  count(method: string): number;
  /** How many HTTP requests the server got with this header value. */
  sentWith(header: string, value: string): number;
}

interface Case {
  name: string;
  era: 'modern' | 'legacy';
  /** The server sends `ttlMs` on lists (then the hint wins over the pool's TTL). */
  hints: boolean;
  start(): Promise<Target>;
}

const HINT_TTL_MS = 300;

const cases: Case[] = [
  {
    name: 'v2 modern-only server',
    era: 'modern',
    hints: true,
    start: async () => {
      const s = await startV2HttpServer({ era: 'modern', toolsTtlMs: HINT_TTL_MS });
      return { url: s.url, openSockets: s.openSockets, restart: s.restart, close: s.close, count: (m) => s.stats.requestsByMethod[m] ?? 0, sentWith: (h, v) => s.stats.requestLog.filter((r) => r.headers[h] === v).length };
    },
  },
  {
    name: 'v2 dual-era server',
    era: 'modern',
    hints: true,
    start: async () => {
      const s = await startV2HttpServer({ era: 'dual', toolsTtlMs: HINT_TTL_MS });
      return { url: s.url, openSockets: s.openSockets, restart: s.restart, close: s.close, count: (m) => s.stats.requestsByMethod[m] ?? 0, sentWith: (h, v) => s.stats.requestLog.filter((r) => r.headers[h] === v).length };
    },
  },
  {
    name: 'SDK 1.32 stateful server',
    era: 'legacy',
    hints: false,
    start: async () => {
      const s = await startHttpMcpServer();
      return { url: s.url, openSockets: s.openSockets, restart: s.restart, close: s.close, count: (m) => s.stats.requestsByMethod[m] ?? 0, sentWith: (h, v) => s.stats.requestLog.filter((r) => r.headers[h] === v).length };
    },
  },
];

describe.each(cases)('protocol: auto against the $name', (c) => {
  let server: Target;
  let pool: McpPool | undefined;

  const makePool = (options: Partial<McpPoolOptions> = {}): McpPool =>
    (pool = new McpPool({
      name: 'eras',
      endpoint: server.url,
      protocol: 'auto',
      minSessions: 1,
      maxSessions: 4,
      maxConcurrentPerSession: 16,
      maxWaiters: 2000,
      healthCheckIntervalMs: 0,
      ...options,
    }));

  beforeEach(async () => {
    server = await c.start();
  });
  afterEach(async () => {
    await pool?.shutdown();
    pool = undefined;
    await server.close();
  });

  it('calls tools in the era the server speaks, asking the server its era once for every session', async () => {
    const p = makePool({ minSessions: 3 });
    await p.start();
    expect(p.protocolEra).toBe(c.era);
    expect(p.metrics.snapshot().total).toBe(3);
    // One probe (server/discover) for the endpoint and identity; the other sessions connect with the verdict.
    expect(server.count('server/discover')).toBe(1);
    expect(server.count('initialize')).toBe(c.era === 'legacy' ? 3 : 0);
    expect(textOf(await p.callTool('echo', { text: 'hello' }))).toBe('hello');
    expect((await p.callTool('add', { a: 2, b: 3 })).structuredContent).toEqual({ sum: 5 });
    expect((await p.checkHealth()).status).toBe('up');
  });

  it('gives 1,000 concurrent callers each its own per-request header, none crossed', async () => {
    const p = makePool();
    await p.start();
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const seen = JSON.parse(textOf(await p.callTool('whoami', {}, { headers: { 'x-request-id': `req-${i}` } }))) as { headers: Record<string, string> };
        return seen.headers['x-request-id'];
      }),
    );
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => `req-${i}`));
  }, 60_000);

  it('keeps identities apart: each partition carries its own identity, and the era is learned per identity', async () => {
    const p = makePool({ partitionBy: ['x-tenant'] });
    await p.start();
    const who = async (tenant: string) =>
      (JSON.parse(textOf(await p.callTool('whoami', {}, { headers: { 'x-tenant': tenant } }))) as { headers: Record<string, string> }).headers['x-tenant'];
    const seen = await Promise.all(['a', 'b', 'a', 'b', 'c'].map(who));
    expect(seen).toEqual(['a', 'b', 'a', 'b', 'c']);
    expect(new Set(p.debugSnapshot().flatMap((r) => (r.partition ? [r.partition] : []))).size).toBe(3);
    expect(p.protocolEra).toBe(c.era);
    // The identity rides on the partition's own requests too (initialize or discover, the streams), not only
    // on the calls that carried it.
    expect(server.sentWith('x-tenant', 'a')).toBeGreaterThan(2);
    expect(server.sentWith('x-tenant', 'c')).toBeGreaterThan(1);
    // The era verdict is never shared across identities: the shared sessions and each identity asked once.
    expect(server.count('server/discover')).toBe(4);
  });

  it('answers input requests with the handler of the caller that caused them, two callers at once', async () => {
    const p = makePool({ maxSessions: 1, onElicitation: async () => ({ action: 'accept', content: { name: 'pool-level' } }) });
    await p.start();
    const ask = (name: string, delayMs: number) =>
      p.callTool(
        'elicit_name',
        { question: 'who?' },
        {
          onElicitation: async () => {
            await new Promise((r) => setTimeout(r, delayMs));
            return { action: 'accept', content: { name } };
          },
        },
      );
    const [alice, bob] = await Promise.all([ask('alice', 60), ask('bob', 10)]);
    expect(textOf(alice)).toBe('accept:alice');
    expect(textOf(bob)).toBe('accept:bob');
    // A call without its own handler gets the pool's.
    expect(textOf(await p.callTool('elicit_name', { question: 'who?' }))).toBe('accept:pool-level');
  });

  it(c.hints ? "lets the server's ttlMs hint win over the pool's TTL" : "caches tools/list for the pool's TTL (the server sends no hint)", async () => {
    const p = makePool({ toolCacheTtlMs: 60_000 });
    await p.start();
    await p.listTools();
    const before = server.count('tools/list');
    await p.listTools();
    expect(server.count('tools/list')).toBe(before); // fresh: served from the cache
    await new Promise((r) => setTimeout(r, HINT_TTL_MS + 100));
    await p.listTools();
    expect(server.count('tools/list')).toBe(c.hints ? before + 1 : before);
  });

  it('keeps serving across a server restart', async () => {
    const p = makePool();
    await p.start();
    expect(textOf(await p.callTool('echo', { text: 'before' }))).toBe('before');
    await server.restart();
    // A read-only call is safe to repeat: the pool retries it on a fresh session if the old one is gone.
    expect(textOf(await p.callTool('lookup', { key: 'k' }))).toBe('{"key":"k"}');
    expect(textOf(await p.callTool('echo', { text: 'after' }))).toBe('after');
  });

  it('leaves no socket open after shutdown', async () => {
    const p = makePool({ minSessions: 2 });
    await p.start();
    await Promise.all(Array.from({ length: 20 }, (_, i) => p.callTool('echo', { text: String(i) })));
    expect(server.openSockets()).toBeGreaterThan(0);
    await p.shutdown();
    pool = undefined;
    // The pool owns its connections and closes them: well within global fetch's 4 s keep-alive timeout, which
    // is how long idle sockets would linger otherwise.
    await until(() => server.openSockets() === 0, 1000, 'every socket closed');
  });
});

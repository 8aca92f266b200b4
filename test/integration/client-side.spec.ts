// Pooled sessions answer the server's own requests: elicitation, sampling and roots, each question reaching
// the caller whose call caused it, even with many callers sharing one session.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CreateMessageResultSchema, ElicitResultSchema, ListRootsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { McpPool, type McpPoolOptions } from '../../lib';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';
import { textOf } from '../support/pids';

let server: TestHttpServer;
let pool: McpPool | undefined;

function registerAskingTools(s: McpServer): void {
  s.registerTool('ask', { inputSchema: { question: z.string() } }, async ({ question }, extra) => {
    const answer = await extra.sendRequest(
      {
        method: 'elicitation/create',
        params: { mode: 'form', message: question, requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } },
      },
      ElicitResultSchema,
    );
    return { content: [{ type: 'text', text: `${answer.action}:${String(answer.content?.name ?? '')}` }] };
  });
  s.registerTool('think', { inputSchema: { prompt: z.string() } }, async ({ prompt }, extra) => {
    const res = await extra.sendRequest(
      { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 10 } },
      CreateMessageResultSchema,
    );
    return { content: [{ type: 'text', text: res.content.type === 'text' ? res.content.text : '?' }] };
  });
  s.registerTool('roots', {}, async (extra) => {
    const res = await extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema);
    return { content: [{ type: 'text', text: res.roots.map((r) => r.uri).join(',') }] };
  });
  s.registerTool('client_info', {}, async () => ({ content: [{ type: 'text', text: JSON.stringify(s.server.getClientVersion()) }] }));
}

function makePool(options: Partial<McpPoolOptions> = {}): McpPool {
  pool = new McpPool({
    name: 'client-side',
    endpoint: server.url,
    minSessions: 2,
    maxSessions: 2,
    maxConcurrentPerSession: 10,
    healthCheckIntervalMs: 0,
    ...options,
  });
  return pool;
}

beforeEach(async () => {
  server = await startHttpMcpServer({ tools: (s) => registerAskingTools(s) });
});
afterEach(async () => {
  await pool?.shutdown();
  pool = undefined;
  await server.close();
});

it('announces clientInfo and the declared capabilities at initialize', async () => {
  const p = makePool({ clientInfo: { name: 'my-agent', version: '2.1.0' }, capabilities: { elicitation: { form: { applyDefaults: true } } } });
  await p.start();
  expect(JSON.parse(textOf(await p.callTool('client_info')))).toMatchObject({ name: 'my-agent', version: '2.1.0' });
});

it('routes each elicitation to the caller that caused it: 20 concurrent callers on 2 shared sessions', async () => {
  const p = makePool({ capabilities: { elicitation: { form: {} } } });
  await p.start();
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      p.callTool('ask', { question: `who is ${i}?` }, {
        onElicitation: async (params) => {
          expect(params.message).toBe(`who is ${i}?`);
          await new Promise((r) => setTimeout(r, (i * 7) % 20)); // answer out of order
          return { action: 'accept', content: { name: `caller-${i}` } };
        },
      }),
    ),
  );
  expect(results.map((r) => textOf(r))).toEqual(Array.from({ length: 20 }, (_, i) => `accept:caller-${i}`));
  expect(server.stats.initializeCount).toBe(2);
});

it('routes each sampling request to its caller, and falls back to the pool-level handler', async () => {
  const p = makePool({
    onSampling: async () => ({ role: 'assistant', model: 'pool-default', content: { type: 'text', text: 'from the pool' } }),
  });
  await p.start();
  const own = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      p.callTool('think', { prompt: `p${i}` }, {
        onSampling: async (params) => {
          // content is one block or an array of blocks; the tool sends one text block
          const content = params.messages[0]!.content;
          const first = Array.isArray(content) ? content[0] : content;
          return { role: 'assistant', model: 'm', content: { type: 'text', text: `answer to ${first?.type === 'text' ? first.text : ''}` } };
        },
      }),
    ),
  );
  expect(own.map((r) => textOf(r))).toEqual(Array.from({ length: 20 }, (_, i) => `answer to p${i}`));
  expect(textOf(await p.callTool('think', { prompt: 'x' }))).toBe('from the pool');
});

it('lists roots from the pool option', async () => {
  const p = makePool({ listRoots: async () => [{ uri: 'file:///srv/a', name: 'a' }, { uri: 'file:///srv/b' }] });
  await p.start();
  expect(textOf(await p.callTool('roots'))).toBe('file:///srv/a,file:///srv/b');
});

it('answers a question no handler takes with an MCP error, never a hang', async () => {
  const p = makePool({ capabilities: { elicitation: { form: {} } } });
  await p.start();
  const result = await p.callTool('ask', { question: 'anyone?' }, { timeoutMs: 5000 });
  expect(result.isError).toBe(true);
  expect(textOf(result)).toMatch(/no elicitation handler/);
});

it('lets configureClient set anything else on each new client', async () => {
  const configured: string[] = [];
  const p = makePool({ configureClient: (client) => configured.push(typeof (client as Client).callTool) });
  await p.start();
  expect(configured).toEqual(['function', 'function']);
});

describe('over stdio (questions arrive on the shared pipe, outside the caller’s async context)', () => {
  const { join } = require('node:path') as typeof import('node:path');
  function stdioPool(options: Partial<McpPoolOptions>): McpPool {
    pool = new McpPool({
      name: 'stdio-questions',
      transport: 'stdio',
      command: process.execPath,
      args: [join(__dirname, '..', 'fixtures', 'stdio-server.cjs')],
      minSessions: 1,
      maxSessions: 1,
      healthCheckIntervalMs: 0,
      capabilities: { elicitation: { form: {} } },
      ...options,
    });
    return pool;
  }

  it('never gives a question to another caller’s handler: B’s question on a session shared with A is refused', async () => {
    const p = stdioPool({ maxConcurrentPerSession: 2 });
    await p.start();
    const seenByA: string[] = [];
    const a = p.callTool('sleep', { ms: 400 }, { onElicitation: async (params) => (seenByA.push(params.message), { action: 'accept', content: { name: 'A' } }) });
    // B brings no handler; two calls are in flight, so the pipe cannot tell whose question it is.
    const b = await p.callTool('elicit_name', { question: 'B’s private question' });
    expect(b.isError).toBe(true);
    expect(textOf(b)).toMatch(/no elicitation handler/);
    expect(textOf(await a)).toBe('slept');
    expect(seenByA).toEqual([]);
  });

  it('with two calls in flight, gives the question to the pool-level handler, not to a caller’s', async () => {
    const p = stdioPool({ maxConcurrentPerSession: 2, onElicitation: async () => ({ action: 'accept', content: { name: 'pool' } }) });
    await p.start();
    const a = p.callTool('sleep', { ms: 400 }, { onElicitation: async () => ({ action: 'accept', content: { name: 'A' } }) });
    expect(textOf(await p.callTool('elicit_name', { question: 'q' }))).toBe('accept:pool');
    await a;
  });

  it('leaves no handler behind when a call is aborted while the rate limiter holds it', async () => {
    const p = stdioPool({ rateLimit: { requestsPerSecond: 4, burst: 1 } });
    await p.start();
    await p.callTool('echo', { text: 'takes the only token' });
    const calledA: string[] = [];
    const ac = new AbortController();
    const a = p.callTool(
      'elicit_name',
      { question: 'A' },
      { signal: ac.signal, onElicitation: async (params) => (calledA.push(params.message), { action: 'accept', content: { name: 'A' } }) },
    );
    ac.abort(new Error('caller gave up'));
    await expect(a).rejects.toThrow(/aborted/);
    // B, on the same (exclusive) session afterwards, brings no handler: A's must not answer it.
    const b = await p.callTool('elicit_name', { question: 'B' });
    expect(textOf(b)).toMatch(/no elicitation handler/);
    expect(calledA).toEqual([]);
  });

  it('still routes each elicitation to the call running on that session', async () => {
    const p = stdioPool({ minSessions: 3, maxSessions: 3 });
    await p.start();
    const results = await Promise.all(
      [0, 1, 2].map((i) =>
        p.callTool('elicit_name', { question: `q${i}` }, { onElicitation: async () => ({ action: 'accept', content: { name: `stdio-${i}` } }) }),
      ),
    );
    expect(results.map((r) => textOf(r))).toEqual(['accept:stdio-0', 'accept:stdio-1', 'accept:stdio-2']);
  });
});

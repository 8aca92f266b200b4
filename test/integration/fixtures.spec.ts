// Proves the MCP test fixtures work with the plain SDK client, so pool tests can trust them.
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startHttpMcpServer, type TestHttpServer } from '../fixtures/http-mcp-server';

const STDIO_SERVER = join(__dirname, '..', 'fixtures', 'stdio-server.cjs');

function textOf(result: unknown): string {
  const content = (result as CallToolResult).content;
  const first = content[0];
  if (first?.type !== 'text') throw new Error(`expected text content, got ${JSON.stringify(content)}`);
  return first.text;
}

async function connectHttp(server: TestHttpServer, requestInit?: RequestInit): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(server.url, { requestInit });
  const client = new Client({ name: 'fixture-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

describe('HTTP MCP fixture', () => {
  let server: TestHttpServer;
  const clients: Client[] = [];

  beforeEach(async () => {
    server = await startHttpMcpServer();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();
  });

  it('serves the demo tools over Streamable HTTP and counts what it saw', async () => {
    const { client } = await connectHttp(server);
    clients.push(client);

    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('hi');
    const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    expect(sum.structuredContent).toEqual({ sum: 5 });

    const failed = await client.callTool({ name: 'throw', arguments: {} });
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toBe('tool threw');

    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'lookup')?.annotations?.readOnlyHint).toBe(true);
    expect(tools.find((t) => t.name === 'write')?.annotations?.destructiveHint).toBe(true);

    expect(server.stats).toMatchObject({ initializeCount: 1, sessionsOpened: 1 });
    expect(server.stats.requestsByMethod['tools/call']).toBe(3);
    expect(server.activeSessions()).toBe(1);
    expect(server.recorder.count('echo')).toBe(1);
  });

  it('whoami reports the session id and the headers sent through requestInit', async () => {
    const { client, transport } = await connectHttp(server, { headers: { 'X-Tenant': 'acme' } });
    clients.push(client);

    const seen = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))) as {
      sessionId: string;
      headers: Record<string, string>;
    };
    expect(seen.sessionId).toBe(transport.sessionId);
    expect(seen.headers['x-tenant']).toBe('acme');
    expect(server.recorder.lastCall('whoami')?.headers['x-tenant']).toBe('acme');
  });

  it('answers 404 for a forgotten session', async () => {
    const { client } = await connectHttp(server);
    clients.push(client);
    await server.forgetSessions();

    const error: unknown = await client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect((error as StreamableHTTPError).code).toBe(404);
    expect(server.activeSessions()).toBe(0);
  });

  it('can mimic server-everything: 400 "No valid session ID" for an unknown session', async () => {
    server.setUnknownSessionStatus(400);
    const { client } = await connectHttp(server);
    clients.push(client);
    await server.forgetSessions();

    const error: unknown = await client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect((error as StreamableHTTPError).code).toBe(400);
    expect((error as Error).message).toMatch(/No valid session ID/);
  });

  it('fault switches answer like misbehaving servers do', async () => {
    const post = (headers: Record<string, string> = {}): Promise<Response> =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });

    expect((await post()).status).toBe(400); // no session id and not initialize

    server.setRequireAuth('s3cret');
    const unauthorized = await post();
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await post({ authorization: 'Bearer s3cret' })).status).toBe(400); // past auth, back to MCP rules
    server.setRequireAuth(null);

    server.setTooManyRequests(7);
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    server.setTooManyRequests(null);

    server.setHtmlMode(true);
    const html = await post();
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(await html.text()).toBe('<html>not mcp</html>');
    server.setHtmlMode(false);

    // Two clients initializing during a delay overlap on the server; DELETE is counted and ends the session.
    server.setDelayMs(50);
    const [a, b] = await Promise.all([connectHttp(server), connectHttp(server)]);
    clients.push(a.client, b.client);
    expect(server.stats.maxConcurrentInitializes).toBe(2);
    server.setDelayMs(0);
    await a.transport.terminateSession();
    expect(server.stats).toMatchObject({ sessionsOpened: 2, sessionsDeleted: 1, sessionsClosed: 1 });
    expect(server.activeSessions()).toBe(1);
  });

  it('stop() closes even hung requests, and restart() serves again on the same port', async () => {
    server.setHang(true);
    const transport = new StreamableHTTPClientTransport(server.url);
    const client = new Client({ name: 'fixture-test', version: '1.0.0' });
    const connecting = client.connect(transport).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.stats.currentInitializes).toBe(1);

    await server.stop(); // must not wait for the hung request
    // fetch rejects with a TypeError from Node's own realm, so compare by shape rather than instanceof.
    expect(String(await connecting)).toMatch(/fetch failed|terminated|socket/i);
    await client.close();

    server.setHang(false);
    await server.restart();
    const again = await connectHttp(server);
    clients.push(again.client);
    expect(textOf(await again.client.callTool({ name: 'echo', arguments: { text: 'back' } }))).toBe('back');
  });
});

describe('HTTP MCP fixture teardown', () => {
  const tcpHandles = (): number =>
    process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;

  it('stop() leaves no listener and no socket behind, even with a call in flight', async () => {
    const baseline = tcpHandles();
    const server = await startHttpMcpServer();
    const { client } = await connectHttp(server);
    const pending = client.callTool({ name: 'sleep', arguments: { ms: 60_000 } }).catch((e: unknown) => e);
    await waitFor(() => server.recorder.inFlight === 1);

    await server.stop();
    // The SDK client does not fail a request whose SSE stream just ends (it waits for its own timeout),
    // so closing the client is what settles `pending`.
    await client.close();
    await pending;

    // The 60 s sleep was aborted by the session closing, so its timer is gone too.
    expect(server.recorder.cancellations).toBe(1);
    await waitFor(() => tcpHandles() <= baseline);
    expect(tcpHandles()).toBeLessThanOrEqual(baseline);
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('stdio MCP fixture', () => {
  const stdio = (env: Record<string, string> = {}): StdioClientTransport =>
    new StdioClientTransport({
      command: process.execPath,
      args: [STDIO_SERVER],
      // getDefaultEnvironment() keeps PATH & co; the fixture only needs its MCP_FIXTURE_* switches on top.
      env: { ...getDefaultEnvironment(), ...env },
      stderr: 'pipe',
    });
  const newClient = (): Client => new Client({ name: 'fixture-test', version: '1.0.0' });

  it('serves echo and pid from a child process', async () => {
    const transport = stdio();
    const client = newClient();
    await client.connect(transport);
    try {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'over stdio' } }))).toBe('over stdio');
      const pid = Number(textOf(await client.callTool({ name: 'pid', arguments: {} })));
      expect(pid).toBe(transport.pid);
      expect(pid).not.toBe(process.pid);
    } finally {
      await client.close();
    }
  });

  it('crash-on-start: connect fails', async () => {
    const client = newClient();
    await expect(client.connect(stdio({ MCP_FIXTURE_MODE: 'crash-on-start' }))).rejects.toThrow();
    await client.close();
  });

  it('exit-after-initialize: connect succeeds, then the transport closes', async () => {
    const client = newClient();
    const closed = new Promise<void>((resolve) => {
      client.onclose = resolve;
    });
    await client.connect(stdio({ MCP_FIXTURE_MODE: 'exit-after-initialize' }));
    await closed;
    await client.close();
  });

  it('garbage: keeps serving between non-JSON stdout lines', async () => {
    const client = newClient();
    const errors: Error[] = [];
    client.onerror = (e) => errors.push(e);
    await client.connect(stdio({ MCP_FIXTURE_MODE: 'garbage', MCP_FIXTURE_GARBAGE_MS: '5' }));
    try {
      await new Promise((r) => setTimeout(r, 30));
      expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } }))).toBe('still here');
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('MCP_FIXTURE_SERIAL=1 runs tool calls one at a time', async () => {
    const client = newClient();
    await client.connect(stdio({ MCP_FIXTURE_SERIAL: '1' }));
    try {
      const started = Date.now();
      await Promise.all([1, 2, 3].map(() => client.callTool({ name: 'sleep', arguments: { ms: 50 } })));
      expect(Date.now() - started).toBeGreaterThanOrEqual(145);
    } finally {
      await client.close();
    }
  });
});

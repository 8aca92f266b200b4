// The pool's OAuth flow against a real protected MCP server (behind a bearer check: the SDK 1.32 McpServer,
// stateless, for the 2025 era; the v2 server packages, 2026-07-28 only, for the modern one) and a minimal
// authorization server, both on 127.0.0.1:0. Each of the pool's three HTTP paths runs the same tests: the
// native transport and the SDK 1.x transport (protocol 'legacy'), and the v2 client (protocol 'auto'). Each pool session is its own SDK transport,
// and the SDK's guard against authorizing the same insufficient_scope challenge twice lives in one transport:
// without the driver's own guard, every session created after an authorization asked the user again for the
// same refused scope (4 authorizations in the conformance scenario auth/scope-retry-limit, where the plain SDK
// client makes 2).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpServer as V2McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { Client as V2Client, StreamableHTTPClientTransport as V2StreamableHTTPClientTransport, UnauthorizedError as V2UnauthorizedError } from '@modelcontextprotocol/client';
import { McpAuthError, McpPool, RepeatedAuthChallengeError } from '../../lib/standalone';
import { AppOAuthProvider } from '../conformance/oauth-provider';

const REDIRECT_URL = 'http://localhost:3000/callback';
/** How often the test's app lets one step send the user to authorize (more than any server here needs). */
const APP_AUTHORIZATION_LIMIT = 5;

interface ProtectedServer {
  url: URL;
  /** Authorization requests (each one a redirect of the user), with the scope each asked for. */
  authorizations: Array<string | undefined>;
  /** Every HTTP request: its path and headers. */
  requests: Array<{ path: string; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
}

/** The era the protected MCP endpoint speaks: 2025-11-25 (SDK 1.32, stateless) or 2026-07-28 only (v2). */
type ServerEra = 'legacy' | 'modern';

/** The v2 server's handler, 2026-07-28 only (a 2025 client gets 400 / -32022), with the same one tool. */
const modernHandler = toNodeHandler(
  createMcpHandler(
    () => {
      const mcp = new V2McpServer({ name: 'protected-modern', version: '2.0.0' });
      mcp.registerTool('whoami', { description: 'who is calling' }, async () => ({ content: [{ type: 'text' as const, text: 'you' }] }));
      return mcp;
    },
    { legacy: 'reject', keepAliveMs: 0 },
  ),
);

/**
 * `scopesFor(method)`: the scopes a JSON-RPC request needs (initialize and notifications need none, as on the
 * conformance server). `grant(scope)`: the scopes a token issued for a request of `scope` carries.
 */
async function startProtectedServer(
  era: ServerEra,
  scopesFor: (method: string) => string[],
  grant: (scope: string | undefined) => string[],
): Promise<ProtectedServer> {
  const authorizations: Array<string | undefined> = [];
  const requests: ProtectedServer['requests'] = [];
  const codes = new Map<string, string[]>();
  const tokens = new Map<string, string[]>();
  let base = '';
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', base);
    requests.push({ path: url.pathname, headers: req.headers });
    const prm = `${base}/.well-known/oauth-protected-resource/mcp`;
    if (url.pathname === '/.well-known/oauth-protected-resource/mcp') return json(res, 200, { resource: `${base}/mcp`, authorization_servers: [base] });
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      return json(res, 200, {
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        registration_endpoint: `${base}/register`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
      });
    }
    if (url.pathname === '/register') {
      const body = JSON.parse(await readBody(req)) as { redirect_uris?: string[] };
      return json(res, 201, { client_id: 'client-1', redirect_uris: body.redirect_uris ?? [], token_endpoint_auth_method: 'none' });
    }
    if (url.pathname === '/authorize') {
      const scope = url.searchParams.get('scope') ?? undefined;
      authorizations.push(scope);
      const code = `code-${authorizations.length}`;
      codes.set(code, grant(scope));
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      const state = url.searchParams.get('state');
      if (state) back.searchParams.set('state', state);
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (url.pathname === '/token') {
      const form = new URLSearchParams(await readBody(req));
      const scopes = codes.get(form.get('code') ?? '');
      if (form.get('grant_type') !== 'authorization_code' || !scopes) return json(res, 400, { error: 'invalid_grant' });
      const token = `token-${tokens.size + 1}`;
      tokens.set(token, scopes);
      return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: scopes.join(' ') });
    }
    if (url.pathname !== '/mcp') return json(res, 404, { error: 'not_found' });
    if (req.method !== 'POST') return era === 'modern' ? void (await modernHandler(req, res)) : json(res, 405, { error: 'method_not_allowed' });
    const body = JSON.parse(await readBody(req)) as { method?: string };
    const needed = body.method ? scopesFor(body.method) : [];
    if (needed.length > 0) {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const held = bearer ? tokens.get(bearer) : undefined;
      const scope = needed.join(' ');
      if (!held) return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': `Bearer scope="${scope}", resource_metadata="${prm}"` });
      if (!needed.every((s) => held.includes(s))) {
        return json(res, 403, { error: 'insufficient_scope' }, { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${prm}"` });
      }
    }
    if (era === 'modern') return void (await modernHandler(req, res, body));
    const mcp = new McpServer({ name: 'protected', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'who is calling' }, async () => ({ content: [{ type: 'text', text: 'you' }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void mcp.close());
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: new URL(`${base}/mcp`),
    authorizations,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What an app does around a step: when it fails and the user authorized meanwhile, finish and try again. */
async function authorizing<T>(provider: AppOAuthProvider, finishAuth: (code: string) => Promise<void>, step: () => Promise<T>): Promise<T> {
  for (let authorizations = 0; ; authorizations++) {
    try {
      return await step();
    } catch (error) {
      const code = provider.takeAuthorizationCode();
      if (!code || authorizations >= APP_AUTHORIZATION_LIMIT) throw error;
      await finishAuth(code);
    }
  }
}

const newProvider = () => new AppOAuthProvider({ redirectUrl: REDIRECT_URL, clientName: 'reauthorization-test' });

/** How a pool reaches the endpoint: the SDK 1.x client on either HTTP client, or the v2 client. */
type PoolPath = { httpClient: 'native' | 'sdk'; protocol?: undefined } | { protocol: 'auto'; httpClient?: undefined };

async function viaPool(
  url: URL,
  path: PoolPath,
  steps: (pool: McpPool, provider: AppOAuthProvider) => Promise<void>,
  headers?: Record<string, string>,
): Promise<void> {
  const provider = newProvider();
  const pool = new McpPool({ name: 'oauth', endpoint: url, minSessions: 1, maxSessions: 1, healthCheckIntervalMs: 0, authProvider: provider, headers, ...path });
  try {
    await pool.start();
    await steps(pool, provider);
  } finally {
    await pool.shutdown();
  }
}

/** The plain SDK client with the same app logic: the reference count. */
async function viaSdk(url: URL, steps: (client: Client, finishAuth: (code: string) => Promise<void>, provider: AppOAuthProvider) => Promise<void>) {
  const provider = newProvider();
  const client = new Client({ name: 'reauthorization-test-sdk', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  try {
    await client.connect(transport);
    await steps(client, (code) => transport.finishAuth(code), provider);
  } finally {
    await client.close();
  }
}

let server: ProtectedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * The plain v2 client with the same app logic, the reference of the modern era. A v2 transport cannot be
 * started twice, so the app connects a new client and transport after each authorization (as the plain v2
 * conformance client does) and finishes the authorization on the transport that asked for it.
 */
async function viaV2(url: URL): Promise<unknown> {
  const provider = newProvider();
  let client: V2Client | undefined;
  let transport: V2StreamableHTTPClientTransport | undefined;
  try {
    return await authorizing(
      provider,
      (code) => transport!.finishAuth(code),
      async () => {
        await client?.close();
        client = new V2Client({ name: 'reauthorization-test-v2', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
        transport = new V2StreamableHTTPClientTransport(url, { authProvider: provider as never });
        await client.connect(transport);
        return client.listTools();
      },
    );
  } finally {
    await client?.close();
  }
}

// Each HTTP path of the pool: the native transport runs the SDK's auth() itself, the SDK 1.x transport inside
// it, the v2 client its own (against a 2025 server, whose refused server/discover it answers with initialize,
// and against a 2026-07-28-only one).
const PATHS: Array<[string, ServerEra, PoolPath]> = [
  ["httpClient 'native', a 2025 server", 'legacy', { httpClient: 'native' }],
  ["httpClient 'sdk', a 2025 server", 'legacy', { httpClient: 'sdk' }],
  ["protocol 'auto', a 2025 server", 'legacy', { protocol: 'auto' }],
  ["protocol 'auto', a 2026-07-28-only server", 'modern', { protocol: 'auto' }],
];

describe.each(PATHS)('%s', (_label, era, path) => {
  it('a scope the server never grants: the pool asks the user twice, no more often than the plain client, then fails with McpAuthError 403', async () => {
    // Like auth/scope-retry-limit: tools/list needs mcp:admin; every token is refused with insufficient_scope.
    const never = () => startProtectedServer(era, (m) => (m === 'initialize' || m.startsWith('notifications/') ? [] : ['mcp:admin']), () => []);

    server = await never();
    let sdkError: unknown;
    if (era === 'legacy') {
      await viaSdk(server.url, async (client, finishAuth, provider) => {
        sdkError = await authorizing(provider, finishAuth, () => client.listTools()).catch((e: unknown) => e);
      });
      expect(sdkError).not.toBeInstanceOf(UnauthorizedError); // the SDK's transport stopped it ("403 after trying upscoping")
      expect(server.authorizations.length).toBe(2);
    } else {
      // Every new v2 transport starts with a fresh step-up count: the plain client asks again after each
      // authorization, until the app's own limit gives up.
      sdkError = await viaV2(server.url).catch((e: unknown) => e);
      expect(sdkError).toBeInstanceOf(V2UnauthorizedError);
      expect(server.authorizations.length).toBe(APP_AUTHORIZATION_LIMIT + 1);
    }
    const reference = server.authorizations.length;
    await server.close();

    server = await never();
    let poolError: unknown;
    await viaPool(server.url, path, async (pool, provider) => {
      poolError = await authorizing(provider, (code) => pool.finishAuth(code), () => pool.listTools()).catch((e: unknown) => e);
    });
    expect(server.authorizations.length).toBeLessThanOrEqual(reference);
    expect(server.authorizations).toEqual(['mcp:admin', 'mcp:admin']);
    expect(poolError).toBeInstanceOf(McpAuthError);
    expect((poolError as McpAuthError).status).toBe(403);
    expect((poolError as McpAuthError).cause).toBeInstanceOf(RepeatedAuthChallengeError);
    // No token (nor its hash) in what the caller sees.
    expect(String((poolError as Error).message) + String(((poolError as McpAuthError).cause as Error).message)).not.toMatch(/token-\d/);
  });

  it('a step-up the server grants: the second authorization (another challenge) is not refused, and the call then succeeds', async () => {
    const scopes: Record<string, string[]> = { 'tools/list': ['mcp:basic'], 'tools/call': ['mcp:basic', 'mcp:write'] };
    server = await startProtectedServer(
      era,
      (m) => scopes[m] ?? [],
      (scope) => (scope ? scope.split(' ') : []),
    );
    await viaPool(server.url, path, async (pool, provider) => {
      const finish = (code: string) => pool.finishAuth(code);
      expect((await authorizing(provider, finish, () => pool.listTools())).map((t) => t.name)).toEqual(['whoami']);
      const result = await authorizing(provider, finish, () => pool.callTool('whoami', {}));
      expect(result.content).toEqual([{ type: 'text', text: 'you' }]);
    });
    expect(server.authorizations).toEqual(['mcp:basic', 'mcp:basic mcp:write']);
  });

  it("sends the static headers, a caller's headers and the bearer token to the MCP endpoint only, never to OAuth discovery, registration or token requests", async () => {
    server = await startProtectedServer(
      era,
      (m) => (m === 'tools/call' ? ['mcp:basic'] : []),
      () => ['mcp:basic'],
    );
    await viaPool(server.url, path, async (pool, provider) => {
      const call = () => pool.callTool('whoami', {}, { headers: { 'x-request-id': 'r-1' } });
      expect((await authorizing(provider, (code) => pool.finishAuth(code), call)).content).toEqual([{ type: 'text', text: 'you' }]);
    }, { 'x-api-key': 'static-secret' });
    const oauth = server.requests.filter((r) => r.path !== '/mcp');
    expect(oauth.map((r) => r.path)).toEqual(expect.arrayContaining(['/.well-known/oauth-protected-resource/mcp', '/register', '/token']));
    const leaked = oauth.filter((r) => r.headers['x-request-id'] !== undefined || r.headers['x-api-key'] !== undefined || /^Bearer /i.test(r.headers.authorization ?? ''));
    expect(leaked.map((r) => r.path)).toEqual([]);
    // ...while the endpoint got all three on the call that went through, and the static header on every request.
    const calls = server.requests.filter((r) => r.path === '/mcp' && r.headers['x-request-id'] === 'r-1');
    expect(calls.some((r) => /^Bearer token-/.test(r.headers.authorization ?? '') && r.headers['x-api-key'] === 'static-secret')).toBe(true);
    expect(server.requests.filter((r) => r.path === '/mcp' && r.headers['x-api-key'] !== 'static-secret')).toEqual([]);
  });
});

// The client program the MCP conformance CLI runs (`@modelcontextprotocol/conformance client --command
// "tsx test/conformance/pool-client.ts"`): the CLI starts a scenario's server, appends its URL to the
// command and names the scenario in MCP_CONFORMANCE_SCENARIO (scenario data, such as client credentials,
// in MCP_CONFORMANCE_CONTEXT). Every scenario goes through an McpPool: create it, do the scenario's steps
// through it, shut it down. Exit code 0 when the scenario's steps ended as they should.
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
// The framework-free entry (`nestjs-mcp-pool/core`): the package index would also load the Nest layer, which
// this program does not use and which doubles the start-up cost of each client process the spec runs.
import { McpAuthorizationRequiredError, McpPool, type McpPoolOptions } from '../../lib/standalone';
import { InMemoryOAuthProvider } from './oauth-provider';

/** What the last line of stdout says when the scenario's steps ended as expected (the spec looks for it). */
const DONE_MARKER = 'pool-client: done';

/** The client ID metadata document URL the conformance authorization servers expect (SEP-991). */
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';
/** The app's OAuth redirect URL; nothing listens there: the provider reads the code from the redirect. */
const REDIRECT_URL = 'http://localhost:3000/callback';
/** Re-authorizations one operation may trigger (a step-up); more means the server will never be satisfied. */
const MAX_REAUTHORIZATIONS_PER_CALL = 1;

type Scenario = (serverUrl: string, context: Record<string, unknown>) => Promise<void>;

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

function newPool(serverUrl: string, options: Partial<McpPoolOptions> = {}): McpPool {
  return new McpPool({
    name: 'conformance',
    endpoint: serverUrl,
    clientInfo: { name: 'nestjs-mcp-pool-conformance', version: '0.1.0' },
    minSessions: 1,
    maxSessions: 1,
    healthCheckIntervalMs: 0, // no pings between the scenario's steps
    logger: {
      debug: () => undefined,
      log: (m) => process.stderr.write(`[pool] ${m}\n`),
      warn: (m) => process.stderr.write(`[pool] warn: ${m}\n`),
      error: (m) => process.stderr.write(`[pool] error: ${m}\n`),
    },
    ...options,
  });
}

async function withPool(pool: McpPool, steps: (pool: McpPool) => Promise<void>): Promise<void> {
  try {
    await steps(pool);
  } finally {
    await pool.shutdown();
  }
}

// --- initialize, tools_call ----------------------------------------------------------------------

const initialize: Scenario = (url) =>
  withPool(newPool(url), async (pool) => {
    await pool.start();
    const tools = await pool.listTools();
    log(`listed ${tools.length} tools`);
  });

const toolsCall: Scenario = (url) =>
  withPool(newPool(url), async (pool) => {
    await pool.start();
    const tools = await pool.listTools();
    if (!tools.some((t) => t.name === 'add_numbers')) throw new Error('the server has no add_numbers tool');
    const result = await pool.callTool('add_numbers', { a: 5, b: 3 });
    log(`add_numbers: ${JSON.stringify(result.content)}`);
  });

// --- elicitation defaults (SEP-1034) -------------------------------------------------------------

const elicitationDefaults: Scenario = (url) =>
  withPool(
    newPool(url, {
      // The SDK fills the schema's defaults into an accepted answer when the client declares applyDefaults.
      capabilities: { elicitation: { form: { applyDefaults: true } } },
      // The server asks with a request of its own (not related to our tools/call), so the question comes on
      // the session's standalone GET stream: the pool-level handler answers it.
      onElicitation: async (params) => {
        log(`elicitation: ${params.message}`);
        return { action: 'accept', content: {} };
      },
    }),
    async (pool) => {
      await pool.start();
      const tools = await pool.listTools();
      if (!tools.some((t) => t.name === 'test_client_elicitation_defaults')) throw new Error('the server has no test_client_elicitation_defaults tool');
      const result = await pool.callTool('test_client_elicitation_defaults', {});
      log(`test_client_elicitation_defaults: ${JSON.stringify(result.content)}`);
    },
  );

// --- SSE retry (SEP-1699) ------------------------------------------------------------------------

const sseRetry: Scenario = (url) =>
  withPool(newPool(url), async (pool) => {
    await pool.start();
    await pool.listTools();
    // The server closes the call's SSE stream after a priming event (id + retry: 500): the SDK reconnects
    // with GET and Last-Event-ID after the retry delay and the result arrives on that stream.
    const result = await pool.callTool('test_reconnection', {});
    log(`test_reconnection: ${JSON.stringify(result.content)}`);
  });

// --- OAuth: authorization code flow --------------------------------------------------------------

/**
 * What an app does around pooled calls when the pool's authProvider needs the user: a call fails with the
 * McpAuthorizationRequiredError (the SDK's UnauthorizedError as cause; and does not retry on its own); the user
 * comes back to the app's redirect URL with a code; the app calls `pool.finishAuth(code)` and calls again.
 */
class AuthorizingApp {
  constructor(
    private readonly pool: McpPool,
    private readonly provider: InMemoryOAuthProvider,
  ) {}

  /** The app's callback route: completes an authorization the provider started, if one is pending. */
  async completePendingAuthorization(): Promise<boolean> {
    const code = this.provider.takeAuthorizationCode();
    if (!code) return false;
    await this.pool.finishAuth(code);
    log('authorization completed (pool.finishAuth)');
    return true;
  }

  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let reauthorizations = 0; ; reauthorizations++) {
      try {
        return await fn();
      } catch (error) {
        if (!(error instanceof McpAuthorizationRequiredError)) throw error;
        log(`${what}: McpAuthorizationRequiredError (authorization needed)`);
        if (reauthorizations >= MAX_REAUTHORIZATIONS_PER_CALL) throw error;
        if (!(await this.completePendingAuthorization())) throw error;
      }
    }
  }
}

async function authorizationCodeFlow(url: string, provider: InMemoryOAuthProvider): Promise<void> {
  await withPool(newPool(url, { authProvider: provider }), async (pool) => {
    const app = new AuthorizingApp(pool, provider);
    // Warm-up: the server answers 401; the provider discovers the authorization server, registers (or uses
    // its client ID metadata URL / pre-registered credentials) and sends the user to authorize.
    await pool.start();
    await app.completePendingAuthorization();
    const tools = await app.call('tools/list', () => pool.listTools());
    log(`listed ${tools.length} tools`);
    const result = await app.call('tools/call', () => pool.callTool('test-tool', {}));
    log(`test-tool: ${JSON.stringify(result.content)}`);
    log(`authorization requests: ${provider.authorizationRequests}`);
  });
}

const authorizationCode: Scenario = (url) =>
  authorizationCodeFlow(url, new InMemoryOAuthProvider({ redirectUrl: REDIRECT_URL, clientName: 'nestjs-mcp-pool-conformance', clientMetadataUrl: CLIENT_METADATA_URL }));

const preRegistration: Scenario = (url, ctx) =>
  authorizationCodeFlow(
    url,
    new InMemoryOAuthProvider({
      redirectUrl: REDIRECT_URL,
      clientName: 'nestjs-mcp-pool-conformance',
      clientInformation: { client_id: stringField(ctx, 'client_id'), client_secret: stringField(ctx, 'client_secret'), redirect_uris: [REDIRECT_URL] },
    }),
  );

/**
 * Scenarios whose server must be refused: the client is right to give up (the CLI accepts a client error
 * there). We give up the way an app would, with the error the pool handed us, and exit 0.
 */
const expectingRefusal =
  (scenario: Scenario, isExpected: (error: unknown) => boolean): Scenario =>
  async (url, ctx) => {
    try {
      await scenario(url, ctx);
    } catch (error) {
      if (!isExpected(error)) throw error;
      log(`gave up as the scenario expects: ${describe(error)}`);
      return;
    }
    throw new Error('the scenario should have been refused, but every step succeeded');
  };

// --- OAuth: client credentials (SEP-1046) --------------------------------------------------------

async function clientCredentialsFlow(url: string, provider: OAuthClientProvider): Promise<void> {
  await withPool(newPool(url, { authProvider: provider }), async (pool) => {
    await pool.start();
    const tools = await pool.listTools();
    log(`listed ${tools.length} tools`);
  });
}

const clientCredentialsBasic: Scenario = (url, ctx) =>
  clientCredentialsFlow(url, new ClientCredentialsProvider({ clientId: stringField(ctx, 'client_id'), clientSecret: stringField(ctx, 'client_secret') }));

const clientCredentialsJwt: Scenario = (url, ctx) =>
  clientCredentialsFlow(
    url,
    new PrivateKeyJwtProvider({
      clientId: stringField(ctx, 'client_id'),
      privateKey: stringField(ctx, 'private_key_pem'),
      algorithm: typeof ctx.signing_algorithm === 'string' ? ctx.signing_algorithm : 'ES256',
    }),
  );

// -------------------------------------------------------------------------------------------------

const scenarios: Record<string, Scenario> = {
  initialize,
  tools_call: toolsCall,
  'tools-call': toolsCall,
  'elicitation-sep1034-client-defaults': elicitationDefaults,
  'sse-retry': sseRetry,
  'auth/metadata-default': authorizationCode,
  'auth/metadata-var1': authorizationCode,
  'auth/metadata-var2': authorizationCode,
  'auth/metadata-var3': authorizationCode,
  'auth/basic-cimd': authorizationCode,
  'auth/scope-from-www-authenticate': authorizationCode,
  'auth/scope-from-scopes-supported': authorizationCode,
  'auth/scope-omitted-when-undefined': authorizationCode,
  'auth/scope-step-up': authorizationCode,
  // The server answers 403 insufficient_scope forever: after one re-authorization per call we stop.
  'auth/scope-retry-limit': expectingRefusal(authorizationCode, (e) => e instanceof McpAuthorizationRequiredError),
  'auth/token-endpoint-auth-basic': authorizationCode,
  'auth/token-endpoint-auth-post': authorizationCode,
  'auth/token-endpoint-auth-none': authorizationCode,
  // The protected resource metadata names another resource: the SDK refuses to authorize for it.
  'auth/resource-mismatch': expectingRefusal(authorizationCode, (e) => /does not match/i.test(describe(e))),
  'auth/pre-registration': preRegistration,
  'auth/2025-03-26-oauth-metadata-backcompat': authorizationCode,
  'auth/2025-03-26-oauth-endpoint-fallback': authorizationCode,
  'auth/client-credentials-basic': clientCredentialsBasic,
  'auth/client-credentials-jwt': clientCredentialsJwt,
};

function stringField(ctx: Record<string, unknown>, name: string): string {
  const value = ctx[name];
  if (typeof value !== 'string') throw new Error(`MCP_CONFORMANCE_CONTEXT has no ${name}`);
  return value;
}

/** The error's message, with its causes (the pool wraps some errors; the cause is the SDK's). */
function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(' <- ');
}

async function main(): Promise<void> {
  const name = process.env.MCP_CONFORMANCE_SCENARIO;
  const serverUrl = process.argv[2];
  if (!name || !serverUrl) throw new Error('usage: MCP_CONFORMANCE_SCENARIO=<scenario> pool-client.ts <server-url>');
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`unknown scenario ${name}`);
  const context = process.env.MCP_CONFORMANCE_CONTEXT ? (JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT) as Record<string, unknown>) : {};
  await scenario(serverUrl, context);
  log(`${DONE_MARKER} ${name}`);
  // The pool is shut down: nothing of it may keep the process alive. If something does, say what and fail.
  setTimeout(() => {
    process.stderr.write(`pool-client: still running 2 s after shutdown; open resources: ${process.getActiveResourcesInfo().join(', ')}\n`);
    process.exit(3);
  }, 2000).unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`pool-client: ${describe(error)}\n${error instanceof Error ? error.stack : ''}\n`);
  process.exit(1);
});

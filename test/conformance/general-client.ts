// What the conformance client programs share: their configuration (read from the environment, as a
// deployment's would be) and the agent they run. The agent is general: the same steps for every server —
// connect, list the tools, call each tool with arguments made from its input schema, answer the server's
// questions — and, when a step needs the user's authorization and the user gave it (the provider holds a
// code), complete the authorization and do the step again. It never asks which test it is in.
//
// No client library is imported here: each entry (pool-client.ts as CommonJS, pool-client.mts as ESM,
// sdk-client.ts) brings its own, and checks errors with its own imports, as an app would.
import type { McpPoolOptions } from '../../lib/standalone';
import { AppOAuthProvider, type ConfiguredClientCredentials } from './oauth-provider';

/** What the last line of stdout says when the agent did every step (the spec looks for it). */
export const DONE_MARKER = 'conformance-client: done';
/** The app's OAuth redirect URL; nothing listens there: the provider reads the code from the redirect. */
export const REDIRECT_URL = 'http://localhost:3000/callback';
/**
 * How many authorizations one step may ask of the user: a loop guard, not a policy (a login, then a step-up
 * to more scope, is 2). A server that keeps refusing is the client library's to stop (the SDK's transport
 * and the pool do not re-authorize a challenge they already tried).
 */
export const MAX_AUTHORIZATIONS_PER_STEP = 3;

export interface ClientConfig {
  serverUrl: string;
  /** Client credentials, when the deployment has them (the conformance CLI hands them over in MCP_CONFORMANCE_CONTEXT). */
  credentials?: ConfiguredClientCredentials;
  /** The client ID metadata document URL the app publishes (SEP-991), from MCP_CLIENT_METADATA_URL if set. */
  clientMetadataUrl?: string;
  /** The pool's protocol option, from MCP_POOL_PROTOCOL if set (`legacy`, `auto`, `modern`): configuration only. */
  protocol?: 'legacy' | 'auto' | 'modern';
}

/**
 * The client's configuration: the server URL (the conformance CLI appends it to the command) and what the
 * environment provides. MCP_CONFORMANCE_CONTEXT is read for credentials only (its `name` is not looked at).
 */
export function configFromEnvironment(argv: readonly string[], env: NodeJS.ProcessEnv): ClientConfig {
  const serverUrl = argv[2];
  if (!serverUrl) throw new Error('usage: <client> <server-url>');
  const context = env.MCP_CONFORMANCE_CONTEXT ? (JSON.parse(env.MCP_CONFORMANCE_CONTEXT) as Record<string, unknown>) : {};
  const str = (key: string): string | undefined => (typeof context[key] === 'string' ? (context[key] as string) : undefined);
  const clientId = str('client_id');
  return {
    serverUrl,
    credentials: clientId
      ? { clientId, clientSecret: str('client_secret'), privateKeyPem: str('private_key_pem'), signingAlgorithm: str('signing_algorithm') }
      : undefined,
    clientMetadataUrl: env.MCP_CLIENT_METADATA_URL || undefined,
    protocol: env.MCP_POOL_PROTOCOL === 'auto' || env.MCP_POOL_PROTOCOL === 'modern' || env.MCP_POOL_PROTOCOL === 'legacy' ? env.MCP_POOL_PROTOCOL : undefined,
  };
}

export function providerFor(config: ClientConfig): AppOAuthProvider {
  return new AppOAuthProvider({
    redirectUrl: REDIRECT_URL,
    clientName: 'nestjs-mcp-pool-conformance',
    clientMetadataUrl: config.clientMetadataUrl,
    credentials: config.credentials,
  });
}

/** The options poolOptionsFor sets (a Pick: the ESM entry hands them to the built package's McpPool). */
export type AgentPoolOptions = Pick<
  McpPoolOptions,
  'name' | 'endpoint' | 'protocol' | 'clientInfo' | 'minSessions' | 'maxSessions' | 'authProvider' | 'capabilities' | 'onElicitation' | 'logger'
>;

/** The pool the app configures (the same for every server it meets): one session, the provider, a form answerer. */
export function poolOptionsFor(config: ClientConfig, provider: AppOAuthProvider): AgentPoolOptions {
  return {
    name: 'conformance',
    endpoint: config.serverUrl,
    ...(config.protocol ? { protocol: config.protocol } : {}),
    clientInfo: { name: 'nestjs-mcp-pool-conformance', version: '0.1.0' },
    minSessions: 1,
    maxSessions: 1,
    authProvider: provider,
    // No user to ask: accept with the form's defaults (the SDK fills them in, as declared).
    capabilities: { elicitation: { form: { applyDefaults: true } } },
    onElicitation: async (params) => {
      log(`elicitation: ${params.message}`);
      return elicitationAnswer('requestedSchema' in params ? params.requestedSchema : undefined);
    },
    logger: {
      debug: () => undefined,
      log: (m) => process.stderr.write(`[pool] ${m}\n`),
      warn: (m) => process.stderr.write(`[pool] warn: ${m}\n`),
      error: (m) => process.stderr.write(`[pool] error: ${m}\n`),
    },
  };
}

export interface AgentTool {
  name: string;
  inputSchema?: unknown;
}

/** What the agent needs of a client library: the pool, or a plain SDK client. */
export interface AgentConnection {
  /** Connects (the pool: `start()`; the SDK: a new transport and `connect`). */
  connect(): Promise<void>;
  listTools(): Promise<AgentTool[]>;
  callTool(name: string, args: Record<string, unknown>): Promise<{ content?: unknown; isError?: boolean }>;
  /** Completes an authorization the provider started (the app's callback route), with the response's `iss` if any. */
  finishAuth(code: string, iss?: string): Promise<void>;
  /** Whether the error says the server wants (other) credentials (checked with the entry's own imports). */
  isAuthError(error: unknown): boolean;
  close(): Promise<void>;
}

export function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

/** The error's message, with its causes (a client library may wrap an error; the cause says more). */
export function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(' <- ');
}

/**
 * Runs the agent: every step, in order. Returns the process exit code: 0 when every step succeeded, 1 when
 * one failed (it says which and why on stderr).
 */
export async function runAgent(conn: AgentConnection, provider: AppOAuthProvider): Promise<number> {
  /** One step, authorizing as often as the step needs and the user allows (a code is waiting). */
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    for (let authorizations = 0; ; authorizations++) {
      try {
        return await fn();
      } catch (error) {
        if (!conn.isAuthError(error)) throw error;
        const code = provider.takeAuthorizationCode();
        const iss = provider.takeAuthorizationIssuer();
        log(`${what}: authorization needed (${code ? 'the user authorized' : 'no authorization to complete'})`);
        if (!code || authorizations >= MAX_AUTHORIZATIONS_PER_STEP) throw error;
        await conn.finishAuth(code, iss);
        log('authorization completed (finishAuth)');
      }
    }
  };
  let failed = 0;
  const fail = (what: string, error: unknown) => {
    failed++;
    process.stderr.write(`conformance-client: ${what} failed: ${describe(error)}\n`);
  };
  try {
    await step('connect', () => conn.connect());
    const tools = await step('tools/list', () => conn.listTools());
    log(`listed ${tools.length} tools: ${tools.map((t) => t.name).join(', ')}`);
    for (const tool of tools) {
      const args = argumentsFor(tool.inputSchema);
      try {
        const result = await step(`tools/call ${tool.name}`, () => conn.callTool(tool.name, args));
        log(`${tool.name}(${JSON.stringify(args)})${result.isError ? ' (isError)' : ''}: ${JSON.stringify(result.content)}`);
      } catch (error) {
        fail(`tools/call ${tool.name}`, error);
      }
    }
  } catch (error) {
    fail('the session', error);
  } finally {
    log(`authorization requests: ${provider.authorizationRequests}`);
    await conn.close();
  }
  if (failed === 0) log(DONE_MARKER);
  return failed === 0 ? 0 : 1;
}

/**
 * The answer to a form elicitation when there is no user to ask: the schema's own defaults (the client
 * declares `elicitation.form.applyDefaults`, so the client library fills them in) and a sample value for a
 * required field without one.
 */
export function elicitationAnswer(requestedSchema: unknown): { action: 'accept'; content: Record<string, unknown> } {
  return { action: 'accept', content: argumentsFor(requestedSchema, { leaveDefaults: true }) };
}

type Schema = Record<string, unknown>;

/** Arguments for a tool from its input schema: every required property, with a value its schema accepts. */
export function argumentsFor(schema: unknown, opts: { leaveDefaults?: boolean } = {}): Record<string, unknown> {
  const s = asSchema(schema);
  const properties = asSchema(s?.properties) ?? {};
  const required = Array.isArray(s?.required) ? (s.required as unknown[]).filter((r): r is string => typeof r === 'string') : [];
  const args: Record<string, unknown> = {};
  for (const name of required) {
    const prop = asSchema(properties[name]);
    if (opts.leaveDefaults && prop && 'default' in prop) continue;
    args[name] = sampleValue(prop, 0);
  }
  return args;
}

function asSchema(value: unknown): Schema | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Schema) : undefined;
}

/** A value the schema accepts: its default, const, first example or enum member, else one of its type. */
function sampleValue(schema: Schema | undefined, depth: number): unknown {
  if (!schema) return null;
  if ('default' in schema) return schema.default;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const variants = (schema.anyOf ?? schema.oneOf) as unknown;
  if (Array.isArray(variants) && variants.length > 0) return sampleValue(asSchema(variants[0]), depth);
  const type = Array.isArray(schema.type) ? (schema.type as unknown[]).find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'integer':
    case 'number': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : 1;
      return type === 'integer' ? Math.ceil(min) : min;
    }
    case 'string':
      return 'x'.repeat(typeof schema.minLength === 'number' ? Math.max(1, schema.minLength) : 4);
    case 'boolean':
      return true;
    case 'array': {
      const n = typeof schema.minItems === 'number' ? schema.minItems : 0;
      return Array.from({ length: n }, () => sampleValue(asSchema(schema.items), depth + 1));
    }
    case 'object':
      return depth < 5 ? argumentsFor(schema) : {};
    default:
      return schema.properties ? argumentsFor(schema) : null;
  }
}

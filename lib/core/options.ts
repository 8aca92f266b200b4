import type { McpProtocolEra, McpProtocolOption, SessionDriver } from './driver';
import type { PartitionBy } from './partitions';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { McpClientCapabilities as ClientCapabilities, McpRoot as Root, McpTool as Tool } from './mcp-types';
import type { McpCallHandlers } from '../context/request-context';
import type { McpLease } from './lease';
import type { McpPoolLogger } from './logger';
import { McpPoolConfigError } from './errors';
import { TOKEN, headerProblems } from '../util/headers';

export { PROTOCOL_HEADERS, headerProblems } from '../util/headers';

export type McpTransportKind = 'streamable_http' | 'stdio';

/** A bearer token, or a function that returns the current one (called per request; cache inside it if costly). */
export type McpAuthOption = string | McpTokenProvider;

/**
 * Returns the current bearer token. The pool caches the result for `authCacheTtlMs` (or until the
 * `expiresAt` it returns), so a rotated token reaches warm sessions on their next request without a new
 * session, and the provider is not called for every request.
 */
export type McpTokenProvider = () => string | { token: string; expiresAt?: number } | Promise<string | { token: string; expiresAt?: number }>;

/**
 * Options of one pool. Durations are in milliseconds. Every option is listed with its default in the
 * README's options table.
 */
export interface McpPoolOptions {
  /** Name of the pool, used in errors, logs and metrics. Default `'default'`. */
  name?: string;
  /** `'streamable_http'` (default) or `'stdio'`. */
  transport?: McpTransportKind;
  /**
   * The MCP protocol era to speak. `'legacy'` (default): 2025-11-25 on the SDK 1.x client (an `initialize`
   * per session, `Mcp-Session-Id`). `'auto'`: the v2 client (`@modelcontextprotocol/client`, an optional
   * peer) asks the server once per endpoint and identity (`server/discover`, falling back to `initialize`)
   * and speaks 2026-07-28 where it can; later sessions reuse the verdict with no round trip. `'modern'`:
   * 2026-07-28 only, on the v2 client. See the README's "Protocol eras".
   */
  protocol?: McpProtocolOption;
  /** HTTP: the MCP endpoint URL. stdio: a command line (`"node server.js --flag"`), as an alternative to `command`/`args`. */
  endpoint?: string | URL;
  /** stdio: the executable to spawn, one child process per session. */
  command?: string;
  /** stdio: arguments of `command`. */
  args?: string[];
  /** stdio: extra environment variables of the child (merged over the SDK's safe default environment). */
  env?: Record<string, string>;
  /** stdio: working directory of the child. */
  cwd?: string;
  /** stdio: what to do with the child's stderr. Default `'inherit'`. */
  stderr?: 'inherit' | 'ignore' | 'pipe';

  /** Sessions kept warm. Default 2. */
  minSessions?: number;
  /** Hard cap on sessions. Default 10. */
  maxSessions?: number;
  /**
   * HTTP: which client speaks Streamable HTTP. `'native'` (default): the library's transport on undici, over
   * keep-alive connections the pool owns (closed at shutdown). `'sdk'`: the SDK's own transport on `fetch`.
   */
  httpClient?: 'native' | 'sdk';
  /**
   * HTTP (`httpClient: 'native'`, or protocol 'auto' / 'modern'): most connections open to the endpoint at
   * once for requests; 0 (default): `maxSessions` × (`maxConcurrentPerSession` + 1), what the requests in
   * flight plus a probe or a close per session can use. Each session's long-lived stream (the GET stream,
   * `subscriptions/listen`) has a connection of its own, outside this bound. One set per endpoint, shared by
   * every partition. A request holds its connection until its response stream ends: keep it at least the
   * calls run at once.
   */
  maxConnections?: number;
  /** Leases that may share one session at once. Default 1 (exclusive borrow, safe for stateful servers). */
  maxConcurrentPerSession?: number;
  /** End-to-end deadline of one acquire, session creation included. Default 30000. */
  acquireTimeoutMs?: number;
  /** Callers allowed to wait for a slot; one more is rejected at once. Default 1000. */
  maxWaiters?: number;
  /** Deadline of connect + initialize of one new session. Default 10000. */
  connectTimeoutMs?: number;
  /** Default deadline of one MCP request (overridable per call with `timeoutMs`). Default 60000. */
  callTimeoutMs?: number;
  /** How long shutdown() lets in-flight calls finish before aborting them. Default 30000. */
  drainTimeoutMs?: number;
  /** TTL of the cached `tools/list`; 0 disables the cache. Default 300000. */
  toolCacheTtlMs?: number;

  /** HTTP: bearer token, or a provider of the current token. Never logged. */
  auth?: McpAuthOption;
  /** HTTP: static headers sent on every request. */
  headers?: Record<string, string>;
  /** HTTP: how long a token from an `auth` provider is reused. Default 30000. */
  authCacheTtlMs?: number;
  /** HTTP: an SDK OAuth client provider (authorization code, client credentials…), passed to each session's transport. */
  authProvider?: OAuthClientProvider;
  /**
   * HTTP: identity headers (for example `['authorization', 'x-tenant-id']`) or a function of the request
   * headers returning an identity. Requests with an identity get sessions of their own (a partition keyed
   * by a hash of it), created with those headers; requests without one share the pool's sessions.
   */
  partitionBy?: PartitionBy;
  /** Partitions kept at most; the least recently used idle one is closed to make room. Default 100. */
  maxPartitions?: number;
  /** A partition unused this long is closed. Default 300000. */
  partitionIdleTimeoutMs?: number;
  /** maxSessions of each partition. Default 2. */
  maxSessionsPerPartition?: number;

  /**
   * Replaces the health ping: called with a lease on an idle, reserved session; a throw or a timeout
   * (`healthCheckTimeoutMs`) evicts the session.
   */
  healthProbe?: (lease: McpLease) => Promise<unknown>;
  /** Warn (with the borrower's stack) when a lease is held longer than this; 0 disables. Default 0. */
  leakDetectionThresholdMs?: number;
  /** Ping idle sessions this often; 0 disables. Default 30000. */
  healthCheckIntervalMs?: number;
  /** Deadline of one health ping. Default 5000. */
  healthCheckTimeoutMs?: number;
  /** Retire a session (when next idle) after this age, minus up to 2.5% jitter; 0 disables. Default 3600000. */
  maxSessionLifetimeMs?: number;
  /** Close sessions idle this long, down to minSessions; 0 disables. Default 600000. */
  idleTimeoutMs?: number;
  /** First backoff delay after a failed session creation. Default 100. */
  retryBaseDelayMs?: number;
  /** Cap of the creation backoff delay. Default 30000. */
  retryMaxDelayMs?: number;
  /** Consecutive creation failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /**
   * Longest time the circuit stays open before one probe creation (the cap of the doubling open interval,
   * see recoveryInitialMs). Default 30000.
   */
  recoveryTimeoutMs?: number;
  /**
   * First time the circuit stays open before one probe creation; each failed probe doubles it, up to
   * recoveryTimeoutMs, and a success resets it. Each interval is shortened by up to 20% at random. Must be
   * <= recoveryTimeoutMs. Default 1000 (or recoveryTimeoutMs, if that is smaller and this is not given).
   */
  recoveryInitialMs?: number;
  /** If true, start() rejects when the warm-up fails; otherwise the pool keeps retrying. Default false. */
  failFast?: boolean;

  /** Called when a fresh `tools/list` differs (names or schemas) from the previous one. Must not throw. */
  onToolsChanged?: (tools: Tool[], previous: Tool[]) => void;

  /**
   * Wraps every MCP request the pool makes for a caller (tracing: start a span, make it current, inject its
   * context as headers with `runWithMcpHeaders`). `fn` must be called exactly once and its result returned.
   */
  instrumentation?: McpPoolInstrumentation;

  /** Runs on each new session after initialize, before it is lent (e.g. set a logging level); a throw fails the creation. */
  onSessionReady?: (lease: McpLease) => Promise<unknown> | unknown;
  /** At most this many requests per second (token bucket with `burst`); a 429 with Retry-After pauses it. */
  rateLimit?: { requestsPerSecond: number; burst?: number };
  /**
   * Leases one tenant may hold at once; over it, rejected at once with TenantLimitError. `tenantFrom`: a
   * header name, or a function of the request's headers returning the tenant (undefined: not limited).
   */
  tenantLimit?: { maxConcurrentPerTenant: number; tenantFrom: string | ((headers: Readonly<Record<string, string>>) => string | undefined) };
  /** Affinity keys remembered at most (least recently used dropped first). Default 10000. */
  maxAffinityKeys?: number;

  /** Name and version the client announces at initialize. */
  clientInfo?: { name: string; version: string };
  /**
   * What every session declares at initialize (for example `{ elicitation: { form: { applyDefaults: true } } }`).
   * A capability whose handler is given below is declared automatically.
   */
  capabilities?: ClientCapabilities;
  /** Answers `elicitation/create` (when no per-call handler does). */
  onElicitation?: McpCallHandlers['onElicitation'];
  /** Answers `sampling/createMessage` (when no per-call handler does). */
  onSampling?: McpCallHandlers['onSampling'];
  /** Answers `roots/list`. */
  listRoots?: () => Root[] | Promise<Root[]>;
  /**
   * Called with each session's new client object before it connects: set anything else on it here. For
   * the built-in drivers it is an SDK `Client`: the 1.x one (`@modelcontextprotocol/sdk`) with protocol
   * 'legacy', the v2 one (`@modelcontextprotocol/client`) with 'auto' or 'modern'. Narrow it with `as Client`
   * from the package that matches (`lease.client` is the same object).
   */
  configureClient?: (client: unknown) => void;
  /** Where the pool logs (quietly). Default: nothing is logged. */
  logger?: McpPoolLogger;
  /** Replaces the transport driver (tests, or transports this package does not ship). */
  driver?: SessionDriver;
}

/** Options with every default filled in. */
export interface ResolvedPoolOptions
  extends Required<
    Omit<
      McpPoolOptions,
      | 'endpoint'
      | 'command'
      | 'args'
      | 'env'
      | 'cwd'
      | 'auth'
      | 'headers'
      | 'clientInfo'
      | 'logger'
      | 'driver'
      | 'authProvider'
      | 'partitionBy'
      | 'onToolsChanged'
      | 'healthProbe'
      | 'instrumentation'
      | 'capabilities'
      | 'onElicitation'
      | 'onSampling'
      | 'listRoots'
      | 'configureClient'
      | 'onSessionReady'
      | 'rateLimit'
      | 'tenantLimit'
    >
  > {
  endpoint?: URL;
  command?: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  auth?: McpAuthOption;
  authProvider?: OAuthClientProvider;
  partitionBy?: PartitionBy;
  onToolsChanged?: (tools: Tool[], previous: Tool[]) => void;
  healthProbe?: (lease: McpLease) => Promise<unknown>;
  instrumentation?: McpPoolInstrumentation;
  capabilities?: ClientCapabilities;
  onElicitation?: McpCallHandlers['onElicitation'];
  onSampling?: McpCallHandlers['onSampling'];
  listRoots?: () => Root[] | Promise<Root[]>;
  configureClient?: (client: unknown) => void;
  onSessionReady?: (lease: McpLease) => Promise<unknown> | unknown;
  rateLimit?: { requestsPerSecond: number; burst: number };
  tenantLimit?: McpPoolOptions['tenantLimit'];
  headers: Record<string, string>;
  clientInfo: { name: string; version: string };
  logger?: McpPoolLogger;
  driver?: SessionDriver;
}

/** What {@link McpPoolOptions.instrumentation} sees of a call. */
export interface McpCallInfo {
  pool: string;
  /** The MCP method (`tools/call`, `tools/list`, …). */
  method: string;
  /** The tool's name, for `tools/call`. */
  toolName?: string;
  /** The server's session id (HTTP), if any. */
  sessionId?: string;
  transport: string;
  /** The identity partition that serves the call (a keyed hash of the identity, never the identity), if any. */
  partition?: string;
  /** The protocol era of the session the call runs on (`'legacy'` or `'modern'`), when the driver says. */
  era?: McpProtocolEra;
}

export interface McpPoolInstrumentation {
  wrapCall<T>(info: McpCallInfo, fn: () => Promise<T>): Promise<T>;
}

export const DEFAULT_POOL_NAME = 'default';

export const POOL_DEFAULTS = {
  transport: 'streamable_http' as McpTransportKind,
  protocol: 'legacy' as McpProtocolOption,
  stderr: 'inherit' as const,
  minSessions: 2,
  maxSessions: 10,
  httpClient: 'native' as 'native' | 'sdk',
  maxConnections: 0,
  maxConcurrentPerSession: 1,
  acquireTimeoutMs: 30_000,
  maxWaiters: 1000,
  connectTimeoutMs: 10_000,
  callTimeoutMs: 60_000,
  drainTimeoutMs: 30_000,
  toolCacheTtlMs: 300_000,
  healthCheckIntervalMs: 30_000,
  healthCheckTimeoutMs: 5_000,
  maxSessionLifetimeMs: 3_600_000,
  idleTimeoutMs: 600_000,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 30_000,
  failureThreshold: 5,
  recoveryTimeoutMs: 30_000,
  recoveryInitialMs: 1_000,
  failFast: false,
  authCacheTtlMs: 30_000,
  maxPartitions: 100,
  partitionIdleTimeoutMs: 300_000,
  maxSessionsPerPartition: 2,
  leakDetectionThresholdMs: 0,
  maxAffinityKeys: 10_000,
};

/**
 * The largest duration (and count) an option may have: 2^31 - 1, Node's timer limit (about 24.8 days). A
 * larger delay is not refused by Node: it becomes 1 ms with a TimeoutOverflowWarning, so `acquireTimeoutMs:
 * 3e9` would fail every borrow after 1 ms.
 */
export const MAX_OPTION_VALUE = 2_147_483_647;
export const TOO_LARGE = `must be at most ${MAX_OPTION_VALUE} (Node's timer limit, about 24.8 days)`;

const NON_NEGATIVE_INTS = [
  'minSessions',
  'maxConnections',
  'acquireTimeoutMs',
  'maxWaiters',
  'drainTimeoutMs',
  'toolCacheTtlMs',
  'healthCheckIntervalMs',
  'maxSessionLifetimeMs',
  'idleTimeoutMs',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'recoveryTimeoutMs',
  'authCacheTtlMs',
  'partitionIdleTimeoutMs',
  'leakDetectionThresholdMs',
] as const;
const POSITIVE_INTS = [
  'maxSessions',
  'maxConcurrentPerSession',
  'connectTimeoutMs',
  'callTimeoutMs',
  'healthCheckTimeoutMs',
  'failureThreshold',
  'recoveryInitialMs',
  'maxPartitions',
  'maxSessionsPerPartition',
  'maxAffinityKeys',
] as const;

/** Every option the pool knows; anything else is a typo and a configuration error. */
export const POOL_OPTION_KEYS: ReadonlySet<string> = new Set([
  'acquireTimeoutMs',
  'args',
  'auth',
  'authCacheTtlMs',
  'authProvider',
  'callTimeoutMs',
  'capabilities',
  'clientInfo',
  'command',
  'configureClient',
  'connectTimeoutMs',
  'cwd',
  'drainTimeoutMs',
  'driver',
  'endpoint',
  'env',
  'failFast',
  'failureThreshold',
  'headers',
  'healthCheckIntervalMs',
  'healthCheckTimeoutMs',
  'healthProbe',
  'httpClient',
  'idleTimeoutMs',
  'instrumentation',
  'leakDetectionThresholdMs',
  'listRoots',
  'logger',
  'maxAffinityKeys',
  'maxConcurrentPerSession',
  'maxConnections',
  'maxPartitions',
  'maxSessionLifetimeMs',
  'maxSessions',
  'maxSessionsPerPartition',
  'maxWaiters',
  'minSessions',
  'name',
  'onElicitation',
  'onSampling',
  'onSessionReady',
  'onToolsChanged',
  'partitionBy',
  'partitionIdleTimeoutMs',
  'protocol',
  'rateLimit',
  'recoveryInitialMs',
  'recoveryTimeoutMs',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'stderr',
  'tenantLimit',
  'toolCacheTtlMs',
  'transport',
]);

/** Splits a command line on blanks, honouring simple single and double quotes. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  return out;
}

/**
 * Fills in defaults and validates. Throws one {@link McpPoolConfigError} that lists every bad field.
 */
export function resolvePoolOptions(options: McpPoolOptions): ResolvedPoolOptions {
  const name = options.name ?? DEFAULT_POOL_NAME;
  const issues: Array<{ field: string; message: string }> = [];
  if (typeof name !== 'string' || name.length === 0) issues.push({ field: 'name', message: 'must be a non-empty string' });

  for (const key of Object.keys(options)) {
    if (!POOL_OPTION_KEYS.has(key)) issues.push({ field: key, message: 'is not a pool option (misspelt?)' });
  }
  const merged = { ...POOL_DEFAULTS, ...stripUndefined(options) } as Record<string, unknown>;
  for (const key of NON_NEGATIVE_INTS) {
    const v = merged[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || !Number.isInteger(v))
      issues.push({ field: key, message: 'must be an integer >= 0' });
    else if (v > MAX_OPTION_VALUE) issues.push({ field: key, message: TOO_LARGE });
  }
  for (const key of POSITIVE_INTS) {
    const v = merged[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || !Number.isInteger(v))
      issues.push({ field: key, message: 'must be an integer >= 1' });
    else if (v > MAX_OPTION_VALUE) issues.push({ field: key, message: TOO_LARGE });
  }
  if (
    typeof merged.minSessions === 'number' &&
    typeof merged.maxSessions === 'number' &&
    merged.minSessions > merged.maxSessions
  )
    issues.push({ field: 'maxSessions', message: 'must be >= minSessions' });
  else if (
    merged.partitionBy !== undefined &&
    typeof merged.minSessions === 'number' &&
    typeof merged.maxSessions === 'number' &&
    merged.minSessions === merged.maxSessions
  )
    issues.push({
      field: 'maxSessions',
      message:
        'must be > minSessions with partitionBy: maxSessions caps the shared sessions and every partition together, and minSessions of it are kept for the shared sessions, so no identity would ever get a session',
    });
  if (
    typeof merged.retryBaseDelayMs === 'number' &&
    typeof merged.retryMaxDelayMs === 'number' &&
    merged.retryBaseDelayMs > merged.retryMaxDelayMs
  )
    issues.push({ field: 'retryMaxDelayMs', message: 'must be >= retryBaseDelayMs' });
  // Only a recoveryInitialMs the user gave must fit under recoveryTimeoutMs: a pool configured with a short
  // recoveryTimeoutMs alone (written before recoveryInitialMs existed) keeps its fixed interval.
  if (options.recoveryInitialMs === undefined && typeof merged.recoveryTimeoutMs === 'number')
    merged.recoveryInitialMs = Math.min(POOL_DEFAULTS.recoveryInitialMs, merged.recoveryTimeoutMs);
  else if (
    typeof merged.recoveryInitialMs === 'number' &&
    typeof merged.recoveryTimeoutMs === 'number' &&
    merged.recoveryInitialMs > merged.recoveryTimeoutMs
  )
    issues.push({ field: 'recoveryInitialMs', message: 'must be <= recoveryTimeoutMs' });

  const transport = merged.transport;
  let endpoint: URL | undefined;
  let command = options.command;
  let args = options.args ?? [];
  const headers = options.headers ?? {};

  if (merged.httpClient !== 'native' && merged.httpClient !== 'sdk') issues.push({ field: 'httpClient', message: "must be 'native' or 'sdk'" });
  if (transport === 'stdio' && options.httpClient !== undefined)
    issues.push({ field: 'httpClient', message: 'is only valid with the streamable_http transport' });
  if (transport === 'stdio' && options.maxConnections !== undefined)
    issues.push({ field: 'maxConnections', message: 'is only valid with the streamable_http transport' });
  if (options.maxConnections !== undefined && merged.httpClient === 'sdk' && merged.protocol === 'legacy')
    issues.push({ field: 'maxConnections', message: "needs httpClient: 'native' (the SDK transport's connections belong to fetch)" });
  if (options.httpClient !== undefined && merged.protocol !== 'legacy')
    issues.push({ field: 'httpClient', message: "applies to protocol 'legacy' only (the v2 client of 'auto' and 'modern' has connections of its own)" });
  if (merged.protocol !== 'legacy' && merged.protocol !== 'auto' && merged.protocol !== 'modern')
    issues.push({ field: 'protocol', message: "must be 'legacy', 'auto' or 'modern'" });

  if (transport !== 'streamable_http' && transport !== 'stdio') {
    issues.push({ field: 'transport', message: "must be 'streamable_http' or 'stdio'" });
  } else if (!options.driver && transport === 'streamable_http') {
    if (options.endpoint === undefined || options.endpoint === '') {
      issues.push({ field: 'endpoint', message: 'is required for the streamable_http transport (the MCP server URL)' });
    } else {
      try {
        endpoint = new URL(String(options.endpoint));
        if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')
          issues.push({ field: 'endpoint', message: 'must be an http: or https: URL' });
      } catch {
        issues.push({ field: 'endpoint', message: 'is not a valid URL' });
      }
    }
    if (options.command !== undefined) issues.push({ field: 'command', message: 'is only valid with the stdio transport' });
  } else if (!options.driver && transport === 'stdio') {
    if (command === undefined && typeof options.endpoint === 'string' && options.endpoint.trim() !== '') {
      const parts = splitCommandLine(options.endpoint);
      command = parts[0];
      args = [...parts.slice(1), ...args];
    }
    if (!command) issues.push({ field: 'command', message: 'is required for the stdio transport (or give endpoint as a command line)' });
    if (options.headers && Object.keys(options.headers).length > 0)
      issues.push({ field: 'headers', message: 'cannot be used with the stdio transport (there is no HTTP request to carry them)' });
    if (options.auth !== undefined)
      issues.push({ field: 'auth', message: 'cannot be used with the stdio transport (pass credentials through env)' });
    if (options.partitionBy !== undefined)
      issues.push({ field: 'partitionBy', message: 'cannot be used with the stdio transport (identities travel in HTTP headers)' });
  }
  if (options.args !== undefined && (!Array.isArray(options.args) || options.args.some((a) => typeof a !== 'string')))
    issues.push({ field: 'args', message: 'must be an array of strings' });
  if (options.headers !== undefined) {
    if (typeof options.headers !== 'object' || options.headers === null) issues.push({ field: 'headers', message: 'must be an object' });
    else if (transport !== 'stdio') issues.push(...headerProblems('headers', options.headers));
  }
  if (options.auth !== undefined && typeof options.auth !== 'string' && typeof options.auth !== 'function')
    issues.push({ field: 'auth', message: 'must be a string token or a function returning one' });
  if (typeof options.auth === 'string' && /[\r\n\0]/.test(options.auth))
    issues.push({ field: 'auth', message: 'must not contain CR, LF or NUL' });

  let partitionBy = options.partitionBy;
  if (partitionBy !== undefined && typeof partitionBy !== 'function') {
    if (!Array.isArray(partitionBy) || partitionBy.length === 0 || partitionBy.some((h) => typeof h !== 'string' || !TOKEN.test(h)))
      issues.push({ field: 'partitionBy', message: 'must be a non-empty list of header names or a function' });
    else partitionBy = partitionBy.map((h) => h.toLowerCase());
  }
  let rateLimit: ResolvedPoolOptions['rateLimit'];
  if (options.rateLimit !== undefined) {
    const { requestsPerSecond, burst = 1 } = options.rateLimit ?? {};
    if (typeof requestsPerSecond !== 'number' || !(requestsPerSecond > 0) || !Number.isFinite(requestsPerSecond))
      issues.push({ field: 'rateLimit.requestsPerSecond', message: 'must be a number > 0' });
    if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1) issues.push({ field: 'rateLimit.burst', message: 'must be an integer >= 1' });
    rateLimit = { requestsPerSecond, burst };
  }
  if (options.tenantLimit !== undefined) {
    const t = options.tenantLimit;
    if (!t || typeof t.maxConcurrentPerTenant !== 'number' || !Number.isInteger(t.maxConcurrentPerTenant) || t.maxConcurrentPerTenant < 1)
      issues.push({ field: 'tenantLimit.maxConcurrentPerTenant', message: 'must be an integer >= 1' });
    if (!t || (typeof t.tenantFrom !== 'function' && (typeof t.tenantFrom !== 'string' || !TOKEN.test(t.tenantFrom))))
      issues.push({ field: 'tenantLimit.tenantFrom', message: 'must be a header name or a function' });
  }
  if (issues.length > 0) throw new McpPoolConfigError(typeof name === 'string' && name ? name : DEFAULT_POOL_NAME, issues);

  return {
    ...(merged as unknown as ResolvedPoolOptions),
    name,
    endpoint,
    command,
    args,
    headers,
    partitionBy,
    rateLimit,
    clientInfo: options.clientInfo ?? { name: 'nestjs-mcp-pool', version: '0.1.0' },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

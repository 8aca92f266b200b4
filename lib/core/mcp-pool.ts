import {
  type McpCallHandlers,
  currentMcpHandlers,
  currentMcpHeaders,
  mergeHeaders,
  runWithMcpHeaders,
  withoutRequestContext,
} from '../context/request-context';
import { CircuitBreaker, type CircuitState } from './circuit-breaker';
import type { DriverConfig, DriverSession, ErrorVerdict, McpProtocolEra, SessionDriver, SessionDriverFactory } from './driver';
import type { McpCallToolResult as CallToolResult, McpMethod, McpParams, McpPrompt as Prompt, McpResource as Resource, McpResult, McpTool as Tool } from './mcp-types';
import { InFlightRequests, clientSpecFor, declaredCapabilities, type PoolRequest } from './server-questions';
import { cachedTokenSource } from './token-cache';
import { CREDENTIAL_HEADERS, isIdentityHeader } from '../util/headers';
import {
  AcquireTimeoutError,
  CallTimeoutError,
  McpAuthError,
  McpAuthorizationRequiredError,
  McpProtocolVersionError,
  McpRequestError,
  McpPoolConfigError,
  McpPoolError,
  OperationAbortedError,
  PoolClosedError,
  PoolExhaustedError,
  PoolUnavailableError,
  PoolNotReadyError,
  RateLimitedError,
  SessionCreateError,
  TenantLimitError,
  SessionLostError,
  errorMessage,
  serverErrorFor,
  type PoolStateSummary,
} from './errors';
import { McpLease, type CallOptions, type LeaseHost } from './lease';
import { collectPages } from './pages';
import { ServerCatalog } from './server-catalog';
import { PoolMetrics, type PoolGauges } from './metrics';
import { headerProblems, resolvePoolOptions, type McpPoolOptions, type ResolvedPoolOptions } from './options';
import { RetryBudget } from './retry-budget';
import { PartitionTable, identityHeadersOf, partitionKeyOf } from './partitions';
import { PoolEvents, type SessionEndReason } from './events';
import { MAX_RETRY_AFTER_MS, RateLimiter, sleep } from './rate-limiter';

/** The cause of a RateLimitedError raised by the pool's own limiter (not the server's 429): never retried. */
const LOCAL_LIMIT = new Error('the pool\'s own rate limiter (rateLimit)');
import { AffinityMap } from './affinity';
import { linkSignal } from '../util/signal-links';
import { SessionRecord, SlotIndex } from './session-record';
import { WaiterQueue, type Waiter } from './waiter-queue';

/** `created → starting → running → draining → closed`. */
export type PoolLifecycle = 'created' | 'starting' | 'running' | 'draining' | 'closed';

/** Options of one borrow. */
export interface AcquireOptions {
  /** Gives up waiting (the waiter leaves the queue at once). */
  signal?: AbortSignal;
  /** End-to-end deadline of this borrow, creation included; default the pool's `acquireTimeoutMs`. */
  acquireTimeoutMs?: number;
  /** HTTP headers added to every call made with this lease. */
  headers?: Record<string, string>;
  /**
   * Prefer the session last used with this key (a conversation, a user) when it has a free slot; otherwise
   * any session, which the key is then bound to.
   */
  affinityKey?: string;
}

/** Options of a pool-level call: the borrow and the request. */
export interface PoolCallOptions extends CallOptions {
  acquireTimeoutMs?: number;
  affinityKey?: string;
}

/** What {@link McpPool.checkHealth} reports. */
export interface McpPoolHealth extends PoolStateSummary {
  status: 'up' | 'degraded' | 'down';
  /** Why the pool is down or degraded (no secrets). */
  reason?: string;
  pool: string;
  state: PoolLifecycle;
  minSessions: number;
  /** The protocol era the pool's sessions speak, once one has connected (see McpPool.protocolEra). */
  era?: McpProtocolEra;
}

/** A row of {@link McpPool.debugSnapshot}. */
export interface McpPoolSessionRow {
  pool: string;
  /** The partition (a hash of the identity), or undefined for the shared sessions. */
  partition: string | undefined;
  id: number;
  state: string;
  ageMs: number;
  idleMs: number;
  inFlight: number;
  borrowCount: number;
  pid?: number;
}

/** A run of this many timeouts in a row on one session marks it hung: it is evicted. */
const HUNG_AFTER_TIMEOUTS = 3;
/** Lifetime jitter: each session retires up to 2.5% early, so that sessions do not all retire at once. */
const LIFETIME_JITTER = 0.025;
/** Health-check jitter: each probe comes up to 10% early. */
const PROBE_JITTER = 0.1;

/**
 * A pool of warm MCP client sessions for one endpoint.
 *
 * ```ts
 * const pool = new McpPool({ endpoint: 'http://127.0.0.1:3000/mcp', minSessions: 2, maxSessions: 10 });
 * await pool.start();
 * const result = await pool.callTool('search', { q: 'nest' });
 * await pool.session(async (lease) => { await lease.callTool('a'); await lease.callTool('b'); });
 * await pool.shutdown();
 * ```
 */
export class McpPool {
  readonly name: string;
  readonly options: Readonly<ResolvedPoolOptions>;
  readonly metrics: PoolMetrics;
  /** Typed event hooks: `pool.events.on('sessionDestroyed', (e) => …)`. */
  readonly events: PoolEvents;

  private lifecycle: PoolLifecycle = 'created';
  private readonly driver: SessionDriver;
  /** Every session that holds resources: ready, probing or retiring. */
  private readonly records = new Set<SessionRecord>();
  private readonly slots: SlotIndex;
  private readonly waiters = new WaiterQueue<SessionRecord>();
  private creating = 0;
  private retiring = 0;
  private leased = 0;
  /** Sessions lost to failures and not yet replaced (for reconnectCount). */
  private replacementsDue = 0;
  /** An auth failure at creation stops background creation until a caller asks again. */
  private authBlocked = false;
  /**
   * The OAuth provider is waiting for the user to authorize: every caller gets this UnauthorizedError at
   * once until finishAuth(), instead of starting a new authorization (a new PKCE verifier) each time.
   */
  private authPending: unknown;
  /**
   * The server speaks no protocol version this pool offers (a configuration error): creation stops, and
   * every caller gets this at once while no session is up. No backoff, no circuit.
   */
  private incompatible: McpProtocolVersionError | undefined;
  /** The era the last session created negotiated (for health and tracing). */
  private lastEra: McpProtocolEra | undefined;
  /** The last creation error since the last success (the circuit does not count auth refusals). */
  private lastCreateFailure: unknown;
  /** Identity headers already warned about (once each). */
  private readonly warnedIdentityHeaders = new Set<string>();
  /** markShuttingDown() was called: health is down, calls still work. */
  private shuttingDown = false;
  private readonly circuit: CircuitBreaker;
  private readonly retryBudget = new RetryBudget();
  private readonly creations = new Set<Promise<void>>();
  /** Driver creations not yet settled, aborted ones included (see startCreation). */
  private readonly attempts = new Set<Promise<void>>();
  private readonly creationAborts = new Set<AbortController>();
  private readonly closings = new Set<Promise<void>>();
  private creationTimer: NodeJS.Timeout | undefined;
  private creationTimerAt = 0;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private drained: (() => void) | undefined;
  private startPromise: Promise<void> | undefined;
  private shutdownPromise: Promise<void> | undefined;
  private readonly host: LeaseHost;
  /** Tools, prompts and resources of the server, cached; one shared walk per miss. */
  private readonly catalog: ServerCatalog;
  private readonly partitions: PartitionTable<McpPool> | undefined;
  private readonly rateLimiter: RateLimiter | undefined;
  /** Aborted when the pool starts draining: ends the waits that hold no lease (the rate limiter's). */
  private readonly draining = new AbortController();
  private readonly affinity: AffinityMap;
  /** Leases held per tenant (tenantLimit). */
  private readonly tenants = new Map<string, number>();
  /** Callers of waitReady(). */
  private readyWaiters: Array<{ done: () => void; fail: (error: unknown) => void }> = [];
  /** Set on a partition's sub-pool: the hash that keys it. */
  private partitionLabel: string | undefined;

  /**
   * @param driverFactory builds the driver for `options.transport` (the package's entry points pass the
   * built-in drivers; the core knows no transport). Not needed when `options.driver` is given.
   */
  constructor(
    private readonly rawOptions: McpPoolOptions,
    private readonly driverFactory?: SessionDriverFactory,
  ) {
    this.options = resolvePoolOptions(rawOptions);
    this.name = this.options.name;
    this.driver = this.options.driver ?? this.buildDriver();
    this.slots = new SlotIndex(this.options.maxConcurrentPerSession);
    this.events = new PoolEvents((event, error) => this.log('warn', `a listener of "${event}" threw: ${errorMessage(error)}`));
    this.circuit = new CircuitBreaker(this.options, Math.random, (from, to) => {
      if (to === 'open') this.log('error', `circuit opened after ${this.circuit.consecutiveFailures} failed session creations`);
      else this.log('log', `circuit ${to}`);
      this.events.emit('circuitStateChanged', { pool: this.name, from, to, error: to === 'open' ? this.circuit.lastError : undefined });
    });
    this.partitions = this.options.partitionBy ? new PartitionTable(this.options.maxPartitions) : undefined;
    this.rateLimiter = this.options.rateLimit ? new RateLimiter(this.options.rateLimit.requestsPerSecond, this.options.rateLimit.burst) : undefined;
    this.affinity = new AffinityMap(this.options.maxAffinityKeys);
    this.metrics = new PoolMetrics(
      this.name,
      () => this.gauges(),
      () => this.partitions?.values().map((p) => p.metrics) ?? [],
    );
    const onToolsChanged = this.options.onToolsChanged;
    this.catalog = new ServerCatalog({
      poolName: this.name,
      ttlMs: this.options.toolCacheTtlMs,
      counters: this.metrics,
      walk: (method, walk) => this.walkAsPool(method, walk),
      toolsChanged: (tools, previous) => {
        try {
          onToolsChanged?.(tools, previous);
        } catch (error) {
          this.log('warn', `onToolsChanged threw: ${errorMessage(error)}`);
        }
        this.events.emit('toolsChanged', { pool: this.name, tools, previous });
      },
    });
    this.host = {
      invoke: (lease, method, params, opts) => this.invoke(lease, method, params, opts),
      release: (lease) => this.release(lease),
      poolName: this.name,
    };
  }

  private buildDriver(): SessionDriver {
    if (!this.driverFactory) {
      throw new McpPoolConfigError(this.name, [
        { field: 'driver', message: `is required: this McpPool has no built-in drivers (import McpPool from 'nestjs-mcp-pool' or 'nestjs-mcp-pool/core')` },
      ]);
    }
    const o = this.options;
    const auth = o.auth;
    const config: DriverConfig = {
      poolName: this.name,
      transport: o.transport,
      protocol: o.protocol,
      endpoint: o.endpoint,
      maxConnections: o.maxSessions * (o.maxConcurrentPerSession + 1),
      headers: o.headers,
      bearerToken: auth === undefined ? undefined : typeof auth === 'string' ? () => auth : cachedTokenSource(auth, o.authCacheTtlMs),
      authProvider: o.authProvider,
      command: o.command,
      args: o.args,
      env: o.env,
      cwd: o.cwd,
      stderr: o.stderr,
      log: (level, message) => this.log(level, message),
    };
    return this.driverFactory(config);
  }

  /** Where the pool is in its life. */
  get state(): PoolLifecycle {
    return this.lifecycle;
  }

  private setLifecycle(to: PoolLifecycle): void {
    const from = this.lifecycle;
    if (from === to) return;
    this.lifecycle = to;
    this.events.emit('stateChanged', { pool: this.name, from, to });
  }

  /** The circuit breaker's state. */
  get circuitState(): CircuitState {
    return this.circuit.poll(Date.now());
  }

  /**
   * The protocol era the pool's sessions speak (`'legacy'` or `'modern'`), as the last session created
   * negotiated it; undefined before the first session (or when the driver does not say). A partitioned pool
   * reports its partitions' era.
   */
  get protocolEra(): McpProtocolEra | undefined {
    if (this.lastEra) return this.lastEra;
    for (const p of this.partitions?.values() ?? []) if (p.lastEra) return p.lastEra;
    return undefined;
  }

  /** The last session-creation error while creations are failing (auth refusals included), else undefined. */
  get lastCreateError(): unknown {
    return this.lastCreateFailure;
  }

  /**
   * Warms `minSessions` and starts background maintenance. Resolves when the first warm-up attempts have
   * settled. A failed warm-up leaves the pool running and retrying with backoff, unless `failFast` is set:
   * then the pool shuts down and this rejects with a {@link SessionCreateError}.
   */
  start(): Promise<void> {
    if (this.startPromise) return this.startPromise;
    if (this.lifecycle !== 'created') return Promise.reject(new PoolClosedError(this.name, 'closed'));
    this.setLifecycle('starting');
    this.startPromise = (async () => {
      this.startMaintenance();
      this.ensureCapacity();
      // Warm-up is a chain (one creation first, then the rest): wait for it until it completes or fails.
      while (this.creations.size > 0 && this.lifecycle === 'starting') {
        await Promise.allSettled([...this.creations]);
        if (this.circuit.failing) break;
      }
      if (this.lifecycle !== 'starting') return; // shut down meanwhile
      this.setLifecycle('running');
      if (this.options.failFast && this.records.size < this.options.minSessions) {
        const cause = this.lastCreateFailure;
        await this.shutdown();
        throw this.incompatible ?? new SessionCreateError(this.name, cause);
      }
    })();
    return this.startPromise;
  }

  /**
   * Borrows a slot. Resolves with a lease at once if a slot is free, else waits in FIFO order up to
   * `acquireTimeoutMs` (creation included). Release the lease exactly once.
   */
  acquire(opts?: AcquireOptions): Promise<McpLease> {
    try {
      const got = this.acquireNow(opts);
      return got instanceof McpLease ? Promise.resolve(got) : got;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * acquire() without the promise when a slot is free (the hot path of pool-level calls saves a microtask
   * hop); throws synchronously what acquire() would reject with at once.
   */
  private acquireNow(opts?: AcquireOptions): McpLease | Promise<McpLease> {
    const partition = this.partitionFor(opts?.headers);
    if (partition) return partition.acquire(opts);
    const headers = opts?.headers ? this.checkHeaders(opts.headers) : undefined;
    const tenant = this.options.tenantLimit ? this.takeTenantSlot(headers) : undefined;
    const now = Date.now();
    let rec: SessionRecord | undefined;
    try {
      rec = this.takeNow(opts?.affinityKey);
    } catch (error) {
      this.releaseTenantSlot(tenant);
      throw error;
    }
    if (rec) return this.lend(rec, now, now, headers, tenant, opts?.affinityKey);
    let waiting: Promise<SessionRecord>;
    try {
      waiting = this.wait(opts, now);
    } catch (error) {
      this.releaseTenantSlot(tenant);
      throw error;
    }
    return waiting.then(
      (r) => this.lend(r, now, Date.now(), headers, tenant, opts?.affinityKey),
      (error: unknown) => {
        this.releaseTenantSlot(tenant);
        throw error;
      },
    );
  }

  /** Returns a lease at once, or null when no slot is free right now (never waits on creation). */
  tryAcquire(opts?: Pick<AcquireOptions, 'headers'>): McpLease | null {
    const partition = this.partitionFor(opts?.headers);
    if (partition) return partition.tryAcquire(opts);
    const headers = opts?.headers ? this.checkHeaders(opts.headers) : undefined;
    const tenant = this.options.tenantLimit ? this.takeTenantSlot(headers) : undefined;
    const now = Date.now();
    let rec: SessionRecord | undefined;
    try {
      rec = this.takeNow();
    } catch (error) {
      this.releaseTenantSlot(tenant); // a draining or closed pool keeps no tenant's count
      throw error;
    }
    if (!rec) {
      this.releaseTenantSlot(tenant);
      this.ensureCapacity();
      return null;
    }
    return this.lend(rec, now, now, headers, tenant);
  }

  /** Runs `fn` with a borrowed lease and always returns it, whatever `fn` does. */
  async session<T>(fn: (lease: McpLease) => Promise<T> | T, opts?: AcquireOptions): Promise<T> {
    const got = this.acquireNow(opts);
    const lease = got instanceof McpLease ? got : await got;
    try {
      // The context also covers calls made on `lease.client` directly.
      return await (lease.headers ? runWithMcpHeaders(lease.headers, () => fn(lease)) : fn(lease));
    } finally {
      lease.release();
    }
  }

  /**
   * Borrows a session, calls a tool, returns the session. Retried once on a fresh session if the session
   * was lost and the call certainly did not run, or the tool is annotated read-only or idempotent.
   */
  callTool(name: string, args?: Record<string, unknown>, opts?: PoolCallOptions): Promise<CallToolResult> {
    return this.routed(opts, (p) => p.withRetry((l) => l.callTool(name, args, opts), opts, () => p.catalog.isToolSafeToRepeat(name)));
  }

  /**
   * Every tool of the server (all pages), from the cache while fresh. A miss is one shared walk that
   * belongs to no caller; `signal` and `timeoutMs` bound only this caller's wait for it.
   */
  listTools(opts?: PoolCallOptions): Promise<Tool[]> {
    return this.routed(opts, (p) => p.catalog.listTools(opts));
  }

  /** Every prompt of the server (all pages), cached like the tools. */
  listPrompts(opts?: PoolCallOptions): Promise<Prompt[]> {
    return this.routed(opts, (p) => p.catalog.listPrompts(opts));
  }

  /** Every resource of the server (all pages), cached like the tools. */
  listResources(opts?: PoolCallOptions): Promise<Resource[]> {
    return this.routed(opts, (p) => p.catalog.listResources(opts));
  }

  /** Pings a pooled session (safe to retry). */
  ping(opts?: PoolCallOptions): Promise<void> {
    return this.routed(opts, (p) => p.withRetry((l) => l.ping(opts), opts, () => true));
  }

  /**
   * Runs a pool-level operation on the pool that serves the caller's identity (a partition, or this one).
   * Whatever goes wrong before the operation starts (every partition busy, bad headers) is a rejected
   * promise, never a synchronous throw: callers of an async method handle one kind of failure.
   */
  private routed<T>(opts: { headers?: Record<string, string> } | undefined, run: (pool: McpPool) => Promise<T>): Promise<T> {
    try {
      return run(this.partitionFor(opts?.headers) ?? this);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** True while the pool runs with at least `minSessions` live sessions. */
  get isReady(): boolean {
    return (this.lifecycle === 'running' || this.lifecycle === 'starting') && this.records.size - this.retiring >= this.options.minSessions;
  }

  /** Resolves once the pool is ready (`minSessions` warm); rejects with PoolNotReadyError after `timeoutMs`. */
  waitReady(opts?: { timeoutMs?: number }): Promise<void> {
    if (this.isReady) return Promise.resolve();
    const timeoutMs = opts?.timeoutMs ?? this.options.acquireTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const entry = {
        done: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== entry);
        reject(new PoolNotReadyError(this.name, timeoutMs, this.records.size - this.retiring, this.options.minSessions, this.lastCreateFailure));
      }, timeoutMs);
      this.readyWaiters.push(entry);
    });
  }

  private notifyReady(): void {
    if (this.readyWaiters.length === 0 || !this.isReady) return;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.done();
  }

  /**
   * Changes `minSessions`/`maxSessions` at run time. Growing takes effect at once (waiters are served by
   * the new capacity); shrinking retires idle sessions first and the rest as their leases come back, never
   * closing a session under a call.
   */
  resize(sizes: { minSessions?: number; maxSessions?: number }): void {
    const next = { minSessions: sizes.minSessions ?? this.options.minSessions, maxSessions: sizes.maxSessions ?? this.options.maxSessions };
    // Validated like the constructor's options (throws McpPoolConfigError naming the field).
    resolvePoolOptions({ ...this.rawOptions, ...next });
    const o = this.options as ResolvedPoolOptions; // options are read-only to users; resize is the one writer
    o.minSessions = next.minSessions;
    o.maxSessions = next.maxSessions;
    let excess = this.records.size - this.retiring - next.maxSessions;
    if (excess > 0) {
      const byIdleFirst = [...this.records].filter((r) => r.state === 'ready' || r.state === 'probing').sort((a, b) => a.inFlight - b.inFlight);
      for (const rec of byIdleFirst) {
        if (excess-- <= 0) break;
        this.retire(rec, 'resize');
      }
    }
    this.dispatch();
    this.ensureCapacity();
  }

  /**
   * Whether the pool can serve, for health endpoints. Never throws. `up` when a live session answers a
   * ping (an idle one is borrowed for it; busy sessions count as serving) or one can be created within
   * `timeoutMs`; `degraded` when up but below `minSessions`; `down` when draining, closed, the circuit is
   * open, or no session answers in time.
   */
  async checkHealth(opts?: { timeoutMs?: number }): Promise<McpPoolHealth> {
    const timeoutMs = opts?.timeoutMs ?? this.options.healthCheckTimeoutMs;
    const report = (status: McpPoolHealth['status'], reason?: string): McpPoolHealth => ({
      status,
      ...(reason ? { reason } : {}),
      pool: this.name,
      state: this.lifecycle,
      minSessions: this.options.minSessions,
      ...(this.protocolEra ? { era: this.protocolEra } : {}),
      ...this.summary(),
    });
    if (this.lifecycle !== 'running' && this.lifecycle !== 'starting') return report('down', `pool is ${this.lifecycle}`);
    if (this.shuttingDown) return report('down', 'the application is shutting down');
    if (this.incompatible && this.records.size === 0) return report('down', this.incompatible.message);
    if (this.circuitState === 'open' && this.records.size === 0) {
      return report('down', `circuit open: ${errorMessage(this.circuit.lastError)}`);
    }
    const serving = (): McpPoolHealth =>
      this.records.size - this.retiring < this.options.minSessions
        ? report('degraded', `${this.records.size - this.retiring} of ${this.options.minSessions} minimum sessions`)
        : report('up');
    const deadline = Date.now() + timeoutMs;
    // A stale session (the server restarted) fails its ping and is evicted; one more try on another or a
    // fresh session tells a restarted server from a dead one.
    for (let attempt = 0; ; attempt++) {
      try {
        let lease = this.tryAcquire();
        if (!lease) {
          if (this.leased > 0) return serving(); // every session is busy serving calls: alive
          lease = await this.acquire({ acquireTimeoutMs: Math.max(1, deadline - Date.now()) });
        }
        try {
          await lease.ping({ timeoutMs: Math.max(1, deadline - Date.now()) });
        } finally {
          lease.release();
        }
        return serving();
      } catch (error) {
        if (attempt === 0 && error instanceof SessionLostError && Date.now() < deadline) continue;
        const reason =
          error instanceof AcquireTimeoutError
            ? `no session could be had within ${timeoutMs} ms${this.lastCreateFailure ? `: ${errorMessage(this.lastCreateFailure)}` : ''}`
            : errorMessage(error);
        return report('down', reason);
      }
    }
  }

  /**
   * One row per session, for debugging: local id, state, age, idle time, leases held, borrow count, child
   * pid (stdio), partition. No secrets: no tokens, no headers, no server session ids.
   */
  debugSnapshot(): McpPoolSessionRow[] {
    const now = Date.now();
    const rows: McpPoolSessionRow[] = [...this.records].map((rec) => ({
      pool: this.name,
      partition: this.partitionLabel,
      id: rec.id,
      state: rec.state,
      ageMs: now - rec.createdAt,
      idleMs: rec.inFlight === 0 ? now - rec.idleSince : 0,
      inFlight: rec.inFlight,
      borrowCount: rec.borrowCount,
      ...(rec.session.pid ? { pid: rec.session.pid } : {}),
    }));
    for (const p of this.partitions?.values() ?? []) rows.push(...p.debugSnapshot());
    return rows;
  }

  /** Drops the cached tools, prompts and resources; the next list call fetches them again. */
  invalidateToolsCache(): void {
    this.catalog.invalidate();
    for (const p of this.partitions?.values() ?? []) p.invalidateToolsCache();
  }

  /** Leases out, callers waiting or sessions being created: a partition with none may be closed. */
  get busy(): boolean {
    return this.leased > 0 || !this.waiters.isEmpty || this.creating > 0;
  }

  /**
   * Says the application is going away: health now reports `down` ("shutting down"), so a load balancer
   * stops sending traffic, while calls keep working (requests still being served may make more). Nest calls
   * this in `beforeApplicationShutdown`; `beginDrain()`/`shutdown()` stop the calls later.
   */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  /** Whether {@link markShuttingDown} (or a drain) has been called. */
  get isShuttingDown(): boolean {
    return this.shuttingDown || this.lifecycle === 'draining' || this.lifecycle === 'closed';
  }

  /**
   * Stops accepting work: new acquires and queued waiters are rejected with {@link PoolClosedError};
   * leases already out keep working. `shutdown()` finishes the drain (and calls this first).
   */
  beginDrain(): void {
    if (this.lifecycle === 'draining' || this.lifecycle === 'closed') return;
    this.setLifecycle('draining');
    this.stopTimers();
    this.draining.abort(new PoolClosedError(this.name, 'draining'));
    for (const p of this.partitions?.values() ?? []) p.beginDrain();
    for (const w of this.waiters.drain()) w.reject(new PoolClosedError(this.name, 'draining'));
    for (const w of this.readyWaiters.splice(0)) w.fail(new PoolClosedError(this.name, 'draining'));
    for (const ac of this.creationAborts) ac.abort(new PoolClosedError(this.name, 'draining'));
  }

  /**
   * Drains and closes the pool: rejects new work, lets in-flight leases finish for up to
   * `drainTimeoutMs`, then closes every session (their pending calls fail with {@link PoolClosedError}).
   * When it resolves, no timer, socket or child process of the pool remains. Idempotent.
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  // ---------------------------------------------------------------------------------------------
  // Identity partitions

  /**
   * The partition that serves the current request's identity, or undefined (no partitioning, or no
   * identity: the shared sessions serve it). Created on first use; throws when every partition is busy.
   */
  private partitionFor(extra: Record<string, string> | undefined): McpPool | undefined {
    const by = this.options.partitionBy;
    if (!by || !this.partitions) return undefined;
    const headers = extra ? mergeHeaders(currentMcpHeaders(), extra) : currentMcpHeaders();
    const key = partitionKeyOf(by, headers);
    if (key === undefined) return undefined;
    if (this.lifecycle !== 'running' && this.lifecycle !== 'starting') return undefined; // takeNow() says why
    const partition = this.partitions.get(
      key,
      () => this.createPartition(key, identityHeadersOf(by, headers)),
      (evicted) => this.closePartition(evicted),
    );
    if (!partition) {
      throw new PoolExhaustedError(
        this.name,
        `all ${this.options.maxPartitions} identity partitions are busy; raise maxPartitions`,
        'queue-full',
        this.summary(),
      );
    }
    return partition;
  }

  /** Shuts down a partition pushed out of the table; tracked like a session's close, so shutdown() waits for it. */
  private closePartition(partition: McpPool): void {
    const closing = withoutRequestContext(() => partition.shutdown()).catch(() => undefined);
    this.closings.add(closing);
    void closing.finally(() => this.closings.delete(closing));
  }

  private createPartition(key: string, identity: Record<string, string>): McpPool {
    const o = this.rawOptions;
    const pool = new McpPool(
      {
      ...o,
      name: `${this.name}/${key}`,
      partitionBy: undefined,
      minSessions: 0,
      maxSessions: this.options.maxSessionsPerPartition,
      // The identity is part of the session: every request of it, initialize included, carries it.
      headers: { ...o.headers, ...identity },
      auth: identity.authorization !== undefined ? undefined : o.auth,
      },
      this.driverFactory,
    );
    pool.partitionLabel = key;
    // A partition's events are the pool's events.
    pool.events.forwardTo(this.events);
    void pool.start();
    return pool;
  }

  // ---------------------------------------------------------------------------------------------
  // Borrowing

  private takeNow(affinityKey?: string): SessionRecord | undefined {
    if (this.lifecycle !== 'running' && this.lifecycle !== 'starting') {
      throw new PoolClosedError(this.name, this.lifecycle === 'created' ? 'created' : this.lifecycle === 'draining' ? 'draining' : 'closed');
    }
    // Fairness: while anyone waits, a newcomer queues behind them.
    if (!this.waiters.isEmpty) return undefined;
    let rec: SessionRecord | undefined;
    if (affinityKey !== undefined) {
      const bound = this.affinity.get(affinityKey);
      if (bound && bound.slotBucket >= 0) rec = bound; // ready, with a free slot
    }
    rec ??= this.slots.pick();
    if (rec) this.claim(rec);
    return rec;
  }

  /** Counts a lease against its tenant, or throws TenantLimitError. Returns the tenant (undefined: unlimited). */
  private takeTenantSlot(headers: Record<string, string> | undefined): string | undefined {
    const limit = this.options.tenantLimit!;
    const all = headers ? mergeHeaders(currentMcpHeaders(), headers) : (currentMcpHeaders() ?? {});
    const tenant = typeof limit.tenantFrom === 'function' ? limit.tenantFrom(all) : all[limit.tenantFrom.toLowerCase()];
    if (tenant === undefined) return undefined;
    const held = this.tenants.get(tenant) ?? 0;
    if (held >= limit.maxConcurrentPerTenant) {
      this.metrics.errors++;
      throw new TenantLimitError(this.name, limit.maxConcurrentPerTenant);
    }
    this.tenants.set(tenant, held + 1);
    return tenant;
  }

  private releaseTenantSlot(tenant: string | undefined): void {
    if (tenant === undefined) return;
    const held = (this.tenants.get(tenant) ?? 1) - 1;
    if (held <= 0) this.tenants.delete(tenant);
    else this.tenants.set(tenant, held);
  }

  /** Leases held by `tenant` right now (tenantLimit). */
  tenantInFlight(tenant: string): number {
    return this.tenants.get(tenant) ?? 0;
  }

  private wait(opts: AcquireOptions | undefined, now: number): Promise<SessionRecord> {
    const signal = opts?.signal;
    if (signal?.aborted) throw new OperationAbortedError(this.name, 'acquire', signal.reason);
    if (this.incompatible && this.records.size === 0) throw this.incompatible;
    if (this.circuit.poll(now) === 'open' && this.records.size === 0) {
      throw new PoolUnavailableError(this.name, this.circuit.openUntil - now, this.circuit.lastError);
    }
    if (this.waiters.size >= this.options.maxWaiters) {
      this.metrics.errors++;
      throw new PoolExhaustedError(
        this.name,
        `${this.waiters.size} callers are already waiting (maxWaiters); raise maxSessions or maxWaiters, or shed load`,
        'queue-full',
        this.summary(),
      );
    }
    if (this.authPending !== undefined && this.records.size === 0) throw this.authPending;
    this.authBlocked = false; // a caller asking again is the signal to try credentials again
    const timeoutMs = opts?.acquireTimeoutMs ?? this.options.acquireTimeoutMs;
    return new Promise<SessionRecord>((resolve, reject) => {
      const w: Waiter<SessionRecord> = { resolve, reject, enqueuedAt: now, queued: false };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              if (!this.waiters.remove(w)) return;
              this.metrics.acquireTimeouts++;
              this.metrics.errors++;
              reject(new AcquireTimeoutError(this.name, timeoutMs, this.summary(), this.lastCreateFailure));
            }, timeoutMs)
          : undefined;
      const onAbort = signal
        ? () => {
            if (this.waiters.remove(w)) reject(new OperationAbortedError(this.name, 'acquire', signal.reason));
          }
        : undefined;
      if (onAbort) signal!.addEventListener('abort', onAbort, { once: true });
      w.cleanup = () => {
        if (timer) clearTimeout(timer);
        if (onAbort) signal!.removeEventListener('abort', onAbort);
      };
      this.waiters.push(w);
      this.ensureCapacity();
    });
  }

  private claim(rec: SessionRecord): void {
    rec.inFlight++;
    rec.borrowCount++;
    this.leased++;
    this.slots.update(rec);
  }

  private lend(
    rec: SessionRecord,
    requestedAt: number,
    now: number,
    headers: Record<string, string> | undefined,
    tenant?: string,
    affinityKey?: string,
  ): McpLease {
    this.metrics.borrowCount++;
    this.metrics.borrowWait.record(now - requestedAt);
    const lease = new McpLease(this.host, rec, headers, now);
    lease.tenant = tenant;
    if (affinityKey !== undefined) this.affinity.bind(affinityKey, rec);
    if (this.options.leakDetectionThresholdMs > 0) this.watchForLeak(lease);
    if (this.events.has('borrow')) this.events.emit('borrow', { pool: this.name, sessionId: rec.id, waitMs: now - requestedAt });
    return lease;
  }

  /**
   * Leak detection (HikariCP's leakDetectionThreshold): warns, with the stack of the borrow, when a lease
   * is held longer than the threshold. Off by default: capturing a stack costs a few microseconds.
   */
  private watchForLeak(lease: McpLease): void {
    const borrowedAt = new Error('borrowed here');
    const threshold = this.options.leakDetectionThresholdMs;
    const timer = setTimeout(() => {
      if (lease.isReleased) return;
      this.log('warn', `a lease has been held for more than ${threshold} ms (possible leak); ${borrowedAt.stack ?? ''}`);
      this.events.emit('leaseLeakSuspected', {
        pool: this.name,
        sessionId: lease.record.id,
        heldMs: Date.now() - lease.borrowedAt,
        stack: borrowedAt.stack ?? '',
      });
    }, threshold);
    timer.unref();
    lease.onRelease = () => clearTimeout(timer);
  }

  /** Hands free slots to waiters, oldest first. */
  private dispatch(): void {
    while (!this.waiters.isEmpty) {
      const rec = this.slots.pick();
      if (!rec) return;
      const w = this.waiters.shift()!;
      this.claim(rec);
      w.resolve(rec);
    }
  }

  private release(lease: McpLease): void {
    lease.onRelease?.();
    this.releaseTenantSlot(lease.tenant);
    const rec = lease.record;
    if (this.events.has('return')) this.events.emit('return', { pool: this.name, sessionId: rec.id, heldMs: Date.now() - lease.borrowedAt });
    rec.inFlight--;
    this.leased--;
    this.metrics.returnCount++;
    if (rec.state === 'ready') {
      if (rec.inFlight === 0) {
        const now = Date.now();
        rec.idleSince = now;
        if (now >= rec.expiresAt) {
          this.retire(rec, 'lifetime');
          this.afterRelease();
          return;
        }
      }
      this.slots.update(rec);
      this.dispatch();
    } else if (rec.state === 'retiring' && rec.inFlight === 0) {
      this.finishRetirement(rec);
    }
    this.afterRelease();
  }

  private afterRelease(): void {
    if (this.leased === 0) this.drained?.();
  }

  // ---------------------------------------------------------------------------------------------
  // Calls

  private async invoke<M extends McpMethod>(lease: McpLease, method: M, params: McpParams<M>, opts: CallOptions | undefined): Promise<McpResult<M>> {
    if (lease.isReleased) throw new McpPoolError(this.name, `${method} was called on a lease that was already released; it was not sent`);
    const rec = lease.record;
    if (rec.state === 'dead') {
      throw new SessionLostError(this.name, method, false, new Error('the session was closed before the call was sent'));
    }
    const timeoutMs = opts?.timeoutMs ?? this.options.callTimeoutMs;
    // Headers are checked before the signal is linked: a throw between the two would leave the link (and
    // its listener on the caller's signal) behind.
    const extra = opts?.headers ? this.checkHeaders(opts.headers) : undefined;
    // A fresh AbortController per request (see signal-links.ts: the SDK never removes the listener it adds).
    const signal = opts?.signal;
    let link: { controller: AbortController; unlink: () => void } | undefined;
    if (signal) {
      if (signal.aborted) throw new OperationAbortedError(this.name, method, signal.reason);
      link = linkSignal(signal);
    }
    const counted = !lease.internal; // the pool's own requests (warm-up hook, probe) are not callers' calls
    if (counted) this.metrics.calls++;
    const toolName = method === 'tools/call' ? (params as McpParams<'tools/call'>).name : undefined;
    const context = currentMcpHandlers();
    const handlers: McpCallHandlers | undefined =
      opts?.onElicitation || opts?.onSampling
        ? { ...context, ...(opts.onElicitation ? { onElicitation: opts.onElicitation } : {}), ...(opts.onSampling ? { onSampling: opts.onSampling } : {}) }
        : context;
    // The request's options object names the request: the driver hands it back with a server question
    // that arrives in its response (server-questions.ts decides who answers).
    const request: { -readonly [K in keyof PoolRequest]: PoolRequest[K] } = {
      timeoutMs,
      signal: link?.controller.signal,
      headers: undefined,
      onprogress: opts?.onprogress,
      resetTimeoutOnProgress: opts?.resetTimeoutOnProgress,
      identifiesCaller: handlers !== undefined,
      handlers,
    };
    let sent = false;
    const send = (): Promise<McpResult<M>> => {
      // Headers are read here, inside the instrumentation's context (it may add trace headers).
      if (this.driver.supportsHeaders) {
        const headers = requestHeaders(currentMcpHeaders(), lease.headers, extra);
        request.headers = headers && this.partitionLabel === undefined ? this.sharedSessionHeaders(headers, method) : headers;
      }
      // In flight from the moment it is sent (not while the rate limiter holds it); the finally below removes it.
      rec.requests.add(request);
      sent = true;
      return rec.session.request(method, params, request);
    };
    const instrumentation = this.options.instrumentation;
    // The instrumentation sees the typed error (an exporter classifies the library's errors, not an SDK's).
    const call = instrumentation
      ? () =>
          instrumentation.wrapCall({ pool: this.name, method, toolName, sessionId: rec.session.remoteId, transport: this.driver.kind, era: rec.session.era }, async () => {
            try {
              return await send();
            } catch (error) {
              throw this.failCall(rec, method, error, link, timeoutMs);
            }
          })
      : send;
    const t0 = performance.now();
    try {
      if (this.rateLimiter) {
        if (lease.prepaid) lease.prepaid = false; // admitted before the slot was taken (withRetry)
        else await this.admit(method, link?.controller.signal, timeoutMs);
      }
      const result = await call();
      const ms = performance.now() - t0;
      if (counted) this.metrics.callLatency.record(ms);
      rec.consecutiveTimeouts = 0;
      rec.lastActiveAt = Date.now();
      if (this.events.has('callCompleted')) this.events.emit('callCompleted', { pool: this.name, sessionId: rec.id, method, durationMs: ms });
      return result;
    } catch (error) {
      const ms = performance.now() - t0;
      if (counted) this.metrics.callLatency.record(ms);
      const translated = this.failCall(rec, method, error, link, timeoutMs);
      if (this.events.has('callCompleted')) {
        this.events.emit('callCompleted', { pool: this.name, sessionId: rec.id, method, durationMs: ms, error: translated });
      }
      throw translated;
    } finally {
      if (sent) rec.requests.delete(request);
      link?.unlink();
    }
  }

  /** Translated once, wherever it is first seen: the driver's error becomes the library's typed error. */
  private failCall(rec: SessionRecord, method: string, error: unknown, link: { controller: AbortController } | undefined, timeoutMs: number): unknown {
    return error instanceof McpPoolError ? error : this.translateCallError(rec, method, error, link?.controller.signal, timeoutMs);
  }

  private translateCallError(
    rec: SessionRecord,
    method: string,
    error: unknown,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): unknown {
    this.metrics.errors++;
    this.metrics.callErrors++;
    if (signal?.aborted) return new OperationAbortedError(this.name, method, signal.reason);
    if (rec.closedByShutdown) return new PoolClosedError(this.name, 'closed', error, true);
    const verdict = this.driver.classify(error, rec.session);
    switch (verdict.kind) {
      case 'timeout':
        this.metrics.callTimeouts++;
        if (++rec.consecutiveTimeouts >= HUNG_AFTER_TIMEOUTS) this.evict(rec, 'hung', error);
        return new CallTimeoutError(this.name, method, timeoutMs, error);
      case 'session-fatal':
        this.evict(rec, 'lost', error);
        // The server refused a session it once knew (restarted, or expired it): the other idle sessions are
        // suspect too. Probe them now, so that a retry gets a validated or a fresh session, not the next
        // stale one.
        if (!verdict.mayHaveRun) for (const other of this.records) if (other.state === 'ready' && other.inFlight === 0) this.probe(other);
        return new SessionLostError(this.name, method, verdict.mayHaveRun, error);
      case 'auth':
        return this.authError(verdict, error);
      case 'rate-limited':
        // The server refused the request (it did not run): pause everyone for as long as it asked.
        this.rateLimiter?.pauseUntil(Date.now() + Math.min(verdict.retryAfterMs ?? 1000, MAX_RETRY_AFTER_MS));
        return new RateLimitedError(this.name, error, verdict.retryAfterMs);
      case 'incompatible':
        return this.protocolError(verdict, error);
      case 'call':
        return verdict.rpc ? serverErrorFor(this.name, method, verdict.rpc, error) : new McpRequestError(this.name, method, verdict.status, error);
    }
  }

  private async withRetry<T>(fn: (lease: McpLease) => Promise<T>, opts: PoolCallOptions | undefined, safeToRepeat: () => boolean): Promise<T> {
    this.retryBudget.recordCall(Date.now());
    try {
      return await (this.rateLimiter ? this.admittedSession(fn, opts) : this.session(fn, opts));
    } catch (error) {
      // A 429 means the call did not run: with a rate limiter, it waits out the pause and goes once more.
      if (error instanceof RateLimitedError && error.cause !== LOCAL_LIMIT && this.rateLimiter && this.retryBudget.tryRetry(Date.now())) {
        this.metrics.retryAttempts++;
        return this.admittedSession(fn, opts);
      }
      if (
        !(error instanceof SessionLostError) ||
        (error.mayHaveRun && !safeToRepeat()) ||
        !this.retryBudget.tryRetry(Date.now())
      ) {
        throw error;
      }
      this.metrics.retryAttempts++;
      return this.rateLimiter ? this.admittedSession(fn, opts) : this.session(fn, opts);
    }
  }

  /**
   * session(fn) behind the rate limiter: admission comes first, while the caller holds nothing (a call
   * waiting for the limiter must not sit on a slot another call could use); the lease's first request is
   * then already admitted.
   */
  private async admittedSession<T>(fn: (lease: McpLease) => Promise<T>, opts: PoolCallOptions | undefined): Promise<T> {
    await this.admit('call', opts?.signal, opts?.acquireTimeoutMs ?? this.options.acquireTimeoutMs);
    return this.session((lease) => {
      lease.prepaid = true;
      return fn(lease);
    }, opts);
  }

  /**
   * An error that asks for the user's authorization (the SDK's UnauthorizedError: an OAuth provider waits)
   * reaches the caller as is, so the app can run the authorization flow; a plain 401/403 becomes a
   * McpAuthError.
   */
  private protocolError(verdict: Extract<ErrorVerdict, { kind: 'incompatible' }>, error: unknown): McpProtocolVersionError {
    return new McpProtocolVersionError(this.name, verdict.supportedVersions, verdict.requestedVersion, this.options.protocol, error);
  }

  private authError(verdict: Extract<ErrorVerdict, { kind: 'auth' }>, error: unknown): McpAuthError {
    return verdict.authorizationRequired ? new McpAuthorizationRequiredError(this.name, error) : new McpAuthError(this.name, verdict.status, error);
  }

  /**
   * Completes an OAuth authorization code flow started by the `authProvider` (the app got `code` on its
   * redirect URL). The provider stores the tokens; the next session creation uses them. `iss`: the `iss`
   * parameter of that redirect, if it had one (RFC 9207): the v2 client checks it against the issuer it
   * recorded (protocol 'auto' / 'modern'); the SDK 1.x client ignores it.
   */
  async finishAuth(authorizationCode: string, iss?: string): Promise<void> {
    if (!this.driver.finishAuth || !this.options.authProvider) {
      throw new McpPoolError(this.name, `finishAuth needs an authProvider on a streamable_http pool`);
    }
    try {
      await this.driver.finishAuth(authorizationCode, iss);
    } catch (error) {
      // The library's types here too: a refused code is an auth error, anything else a failed request.
      const verdict = this.driver.classify(error, undefined);
      throw verdict.kind === 'auth' ? this.authError(verdict, error) : new McpRequestError(this.name, 'finishAuth', undefined, error);
    }
    this.authPending = undefined;
    this.authBlocked = false;
    this.ensureCapacity();
  }

  /**
   * Waits for the rate limiter's permission to send one request. Bounded by the caller's deadline
   * (`deadlineMs`, 0: none): a wait that would outlast it is refused at once with a RateLimitedError that
   * says how long it would have been. The caller's abort and the pool's drain end the wait early; a
   * reservation that is not used goes back to the limiter.
   */
  private async admit(method: string, signal: AbortSignal | undefined, deadlineMs: number): Promise<void> {
    const limiter = this.rateLimiter!;
    const delay = limiter.reserve(Date.now());
    if (delay <= 0) return;
    if (deadlineMs > 0 && delay > deadlineMs) {
      limiter.refund();
      this.metrics.errors++;
      throw new RateLimitedError(
        this.name,
        LOCAL_LIMIT,
        delay,
        `rateLimit would hold ${method} for ${Math.round(delay)} ms, past its ${deadlineMs} ms deadline; raise rateLimit.requestsPerSecond or the deadline, or shed load`,
      );
    }
    try {
      await sleep(delay, signal, this.draining.signal);
    } catch (reason) {
      limiter.refund();
      if (reason instanceof PoolClosedError) throw reason;
      throw new OperationAbortedError(this.name, method, reason);
    }
  }

  /** Leases out plus callers waiting: how busy the pool is (for least-busy routing). */
  get load(): number {
    return this.leased + this.waiters.size;
  }

  /**
   * Whether a call of this tool may run twice: the server's annotations (from the cached tools list) say
   * `readOnlyHint` or `idempotentHint`.
   */
  isToolSafeToRepeat(name: string): boolean {
    return this.catalog.isToolSafeToRepeat(name);
  }

  /**
   * One list walk the pool makes for itself (a cache miss shared by every caller that joins it): outside
   * every caller's async context (no caller's headers), with no caller's signal, under one deadline of
   * `callTimeoutMs` for every page together; a retry on a fresh session if a session is lost under it.
   */
  private walkAsPool<T>(method: string, walk: (lease: McpLease, options: CallOptions) => Promise<T>): Promise<T> {
    return withoutRequestContext(() => {
      const ms = this.options.callTimeoutMs;
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new CallTimeoutError(this.name, `${method} (every page)`, ms)), ms);
      return this.withRetry((l) => walk(l, { signal: deadline.signal, timeoutMs: ms }), { signal: deadline.signal }, () => true)
        .catch((error: unknown) => {
          throw deadline.signal.aborted ? deadline.signal.reason : error;
        })
        .finally(() => clearTimeout(timer));
    });
  }

  /**
   * The per-request headers a shared session may carry (this pool is not one identity's partition): a
   * credential is an error (it would authenticate a shared session's request as that caller), other
   * identity headers stay off the wire (see isIdentityHeader). Names only in errors and logs, never values.
   */
  private sharedSessionHeaders(headers: Readonly<Record<string, string>>, method: string): Readonly<Record<string, string>> | undefined {
    let kept: Record<string, string> | undefined;
    for (const name of Object.keys(headers)) {
      if (CREDENTIAL_HEADERS.has(name)) {
        throw new McpPoolConfigError(this.name, [
          {
            field: `headers.${name}`,
            message: `cannot be sent per request on shared sessions (${method}): give the pool partitionBy: ['${name}'] so that each identity gets sessions of its own, or set the pool's auth option`,
          },
        ]);
      }
      if (isIdentityHeader(name)) {
        kept ??= { ...headers };
        delete kept[name];
        if (!this.warnedIdentityHeaders.has(name)) {
          this.warnedIdentityHeaders.add(name);
          this.log('warn', `the identity header "${name}" is not sent on shared sessions; partition the pool by it (partitionBy) to send it`);
        }
      }
    }
    if (!kept) return headers;
    return Object.keys(kept).length > 0 ? kept : undefined;
  }

  private checkHeaders(headers: Record<string, string>): Record<string, string> {
    if (!this.driver.supportsHeaders) {
      throw new McpPoolConfigError(this.name, [
        { field: 'headers', message: `cannot be sent on a ${this.driver.kind} pool (there is no HTTP request to carry them)` },
      ]);
    }
    const problems = headerProblems('headers', headers);
    if (problems.length) throw new McpPoolConfigError(this.name, problems);
    return headers;
  }

  // ---------------------------------------------------------------------------------------------
  // Creating sessions

  /**
   * Starts the creations the pool needs now: enough for `minSessions`, plus one per waiter that neither a
   * free slot nor a creation under way will serve (spike elision). While creations fail, at most one
   * runs at a time, spaced by backoff; an open circuit runs none until its probe is due.
   */
  private ensureCapacity(): void {
    if (this.lifecycle !== 'running' && this.lifecycle !== 'starting') return;
    let wanted = this.creationsWanted();
    if (wanted <= 0) return;
    const now = Date.now();
    const circuit = this.circuit.poll(now);
    if (circuit === 'open') {
      this.wakeCreationAt(this.circuit.openUntil);
      return;
    }
    if (this.authBlocked || this.incompatible) return;
    // Slow start: with no live session there is no proof the endpoint works, so one creation runs
    // first and the rest follow once it succeeds. While creations fail they stay one at a time, spaced
    // by backoff, however many callers wait.
    if (this.circuit.failing || circuit === 'half-open' || this.records.size === 0) {
      if (this.creating > 0) return;
      if (now < this.circuit.nextAttemptAt) {
        this.wakeCreationAt(this.circuit.nextAttemptAt);
        return;
      }
      wanted = 1;
    }
    for (let i = 0; i < wanted; i++) this.startCreation();
  }

  private creationsWanted(): number {
    const { maxSessions, minSessions, maxConcurrentPerSession } = this.options;
    const room = maxSessions - this.records.size - this.creating;
    if (room <= 0) return 0;
    const live = this.records.size - this.retiring;
    const forMin = minSessions - live - this.creating;
    const unserved = this.waiters.size - this.slots.freeSlots - this.creating * maxConcurrentPerSession;
    const forWaiters = unserved > 0 ? Math.ceil(unserved / maxConcurrentPerSession) : 0;
    return Math.min(room, Math.max(forMin, forWaiters));
  }

  private wakeCreationAt(at: number): void {
    if (this.creationTimer && this.creationTimerAt <= at) return;
    if (this.creationTimer) clearTimeout(this.creationTimer);
    this.creationTimerAt = at;
    this.creationTimer = setTimeout(() => {
      this.creationTimer = undefined;
      this.ensureCapacity();
    }, Math.max(0, at - Date.now()));
    this.creationTimer.unref();
  }

  private startCreation(): void {
    this.creating++;
    const ac = new AbortController();
    this.creationAborts.add(ac);
    const timeoutMs = this.options.connectTimeoutMs;
    const timer = setTimeout(() => ac.abort(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
    const started = Date.now();
    // A session is shared: its initialize must not carry the headers of the caller that triggered it.
    const requests = new InFlightRequests();
    const attempt = withoutRequestContext(() => this.driver.create({ signal: ac.signal, timeoutMs, client: this.clientSpec(requests) })).then(async (ds) => {
      // Until the session joins the pool, its death fails the creation: a child that exits during the
      // tools listing or the warm-up hook must not be added as a live session.
      let died: Error | undefined;
      ds.onDied = (reason) => (died ??= reason);
      try {
        await withoutRequestContext(async () => {
          await this.prepareSession(ds, ac.signal);
          await this.runSessionReadyHook(ds, requests);
        });
        if (died) throw died;
        return ds;
      } catch (error) {
        await ds.close();
        throw error;
      }
    });
    // The attempt itself is tracked, not only the race below: an aborted creation settles at once for its
    // waiters, while the driver may still be starting (or closing) a child; shutdown waits for it.
    const tracked = attempt.then(
      () => undefined,
      () => undefined,
    );
    this.attempts.add(tracked);
    void tracked.finally(() => this.attempts.delete(tracked));
    const p = raceAbort(attempt, ac.signal, (late) => this.closeSession(late))
      .then(
        (ds) => this.onCreated(ds, started, requests),
        (error: unknown) => this.onCreateFailed(error),
      )
      .finally(() => {
        clearTimeout(timer);
        this.creationAborts.delete(ac);
        this.creations.delete(p);
      });
    this.creations.add(p);
  }

  /** Lists the tools once on each new session, so that the SDK can validate structured tool output. */
  private async prepareSession(ds: DriverSession, signal: AbortSignal): Promise<void> {
    if (!ds.serverCapabilities?.tools) return;
    const generation = this.catalog.toolsGeneration;
    const timeoutMs = this.options.connectTimeoutMs;
    let hintTtlMs: unknown;
    const tools = await collectPages(
      this.name,
      'tools/list',
      // A signal of its own per page: the SDK adds a listener to each request's signal and never removes it.
      async (cursor) => {
        const page = linkSignal(signal);
        try {
          return await ds.request('tools/list', cursor === undefined ? undefined : { cursor }, { signal: page.controller.signal, timeoutMs });
        } finally {
          page.unlink();
        }
      },
      (page) => page.tools,
      (first) => (hintTtlMs = first.ttlMs),
    );
    // The list is fetched anyway: let it serve the cache too (for as long as the server's hint says, if any).
    this.catalog.offerTools(tools, generation, hintTtlMs);
  }

  /** The warm-up hook, on a session not yet in the pool (its lease's release does nothing). */
  private async runSessionReadyHook(ds: DriverSession, requests: InFlightRequests): Promise<void> {
    const hook = this.options.onSessionReady;
    if (!hook) return;
    const rec = new SessionRecord(ds, Date.now(), Infinity, requests);
    await hook(this.reservedLease(rec));
  }

  /**
   * A lease on a session the pool holds for itself (a probe, the warm-up hook): not a borrowed slot, so
   * releasing it does nothing.
   */
  private reservedLease(rec: SessionRecord): McpLease {
    const lease = new McpLease({ ...this.host, release: () => undefined }, rec, undefined, Date.now());
    lease.internal = true;
    return lease;
  }

  /** The client every session presents; `requests` are the pool's requests in flight on that session. */
  private clientSpec(requests: InFlightRequests) {
    const o = this.options;
    const pool = { onElicitation: o.onElicitation, onSampling: o.onSampling, listRoots: o.listRoots };
    return clientSpecFor(
      {
        poolName: this.name,
        clientInfo: o.clientInfo,
        capabilities: declaredCapabilities(o.capabilities, pool),
        pool,
        listChanged: (list) => this.catalog.listChanged(list),
        configureClient: o.configureClient,
      },
      requests,
    );
  }

  private onCreated(ds: DriverSession, started: number, requests: InFlightRequests): void {
    this.creating--;
    if (this.lifecycle === 'draining' || this.lifecycle === 'closed') {
      this.closeSession(ds);
      return;
    }
    // resize() lowered maxSessions while this creation ran: maxSessions is a hard cap, so the session that
    // arrives over it is closed, not kept.
    if (this.records.size - this.retiring >= this.options.maxSessions) {
      this.circuit.onSuccess();
      this.closeSession(ds);
      this.dispatch();
      this.ensureCapacity();
      return;
    }
    const now = Date.now();
    const { maxSessionLifetimeMs, healthCheckIntervalMs } = this.options;
    const expiresAt = maxSessionLifetimeMs > 0 ? now + maxSessionLifetimeMs * (1 - Math.random() * LIFETIME_JITTER) : Infinity;
    const rec = new SessionRecord(ds, now, expiresAt, requests);
    rec.nextProbeAt = now + healthCheckIntervalMs * (1 - Math.random() * PROBE_JITTER);
    ds.onDied = (reason) => this.evict(rec, 'died', reason);
    this.records.add(rec);
    this.metrics.sessionsCreated++;
    if (this.replacementsDue > 0) {
      this.replacementsDue--;
      this.metrics.reconnectCount++;
    }
    this.circuit.onSuccess();
    this.lastCreateFailure = undefined;
    this.authBlocked = false;
    this.lastEra = ds.era ?? this.lastEra;
    this.log('debug', `session created in ${now - started} ms (${this.records.size} sessions)`);
    this.events.emit('sessionCreated', { pool: this.name, sessionId: rec.id, durationMs: now - started });
    this.notifyReady();
    this.slots.update(rec);
    this.dispatch();
    this.ensureCapacity();
  }

  private onCreateFailed(error: unknown): void {
    this.creating--;
    if (this.lifecycle === 'draining' || this.lifecycle === 'closed') return;
    this.metrics.sessionCreateFailures++;
    this.metrics.errors++;
    const verdict = this.driver.classify(error, undefined);
    this.lastCreateFailure = verdict.kind === 'auth' ? this.authError(verdict, error) : error;
    if (verdict.kind === 'incompatible') {
      // A permanent mismatch, not an outage: stop creating, tell everyone now, keep the circuit out of it.
      this.incompatible = this.protocolError(verdict, error);
      this.lastCreateFailure = this.incompatible;
      this.log('error', this.incompatible.message);
      for (const w of this.waiters.drain()) w.reject(this.incompatible);
      return;
    }
    if (verdict.kind === 'auth') {
      // Credentials were refused: retrying on our own would only hammer the server's auth limits. Tell
      // the waiters now; the next caller tries again.
      this.authBlocked = true;
      if (verdict.authorizationRequired && this.options.authProvider) this.authPending = this.lastCreateFailure;
      this.log('warn', `session creation was refused by the server (HTTP ${verdict.status ?? '401'})`);
      if (this.records.size === 0) {
        for (const w of this.waiters.drain()) w.reject(this.authError(verdict, error));
      }
      return;
    }
    const opened = this.circuit.onFailure(error, Date.now());
    this.log('warn', `session creation failed (${this.circuit.consecutiveFailures} in a row): ${errorMessage(error)}`);
    this.events.emit('sessionCreateFailed', { pool: this.name, error, consecutiveFailures: this.circuit.consecutiveFailures });
    if (opened) {
      if (this.records.size === 0) {
        const retryIn = this.circuit.openUntil - Date.now();
        for (const w of this.waiters.drain()) w.reject(new PoolUnavailableError(this.name, retryIn, error));
      }
    }
    this.ensureCapacity();
  }

  // ---------------------------------------------------------------------------------------------
  // Losing and retiring sessions

  /** Removes a failed session at once and starts its replacement. It is never lent again. */
  private evict(rec: SessionRecord, why: Extract<SessionEndReason, 'died' | 'lost' | 'hung' | 'health'>, error: unknown): void {
    if (rec.state === 'dead') return;
    if (rec.state === 'retiring') this.retiring--;
    rec.state = 'dead';
    this.slots.remove(rec);
    this.records.delete(rec);
    this.affinity.dropSession(rec);
    this.metrics.sessionsDestroyed++;
    this.replacementsDue++;
    // A rebuilt session may see another server (restarted, upgraded): cached lists are stale.
    this.invalidateToolsCache();
    this.log('warn', `session evicted (${why}): ${errorMessage(error)}`);
    this.events.emit('sessionDestroyed', { pool: this.name, sessionId: rec.id, reason: why, error });
    this.closeSession(rec.session);
    this.ensureCapacity();
  }

  /** Retires a healthy session: now if idle, else when its last lease returns. Never mid-call. */
  private retire(rec: SessionRecord, why: 'lifetime' | 'idle' | 'resize'): void {
    if (rec.state !== 'ready' && rec.state !== 'probing') return;
    rec.endReason = why;
    if (why === 'lifetime') this.metrics.recycledCount++;
    this.slots.remove(rec);
    rec.state = 'retiring';
    this.retiring++;
    if (rec.inFlight === 0) this.finishRetirement(rec);
    else this.ensureCapacity();
  }

  private finishRetirement(rec: SessionRecord): void {
    rec.state = 'dead';
    this.retiring--;
    this.records.delete(rec);
    this.affinity.dropSession(rec);
    this.metrics.sessionsDestroyed++;
    this.events.emit('sessionDestroyed', { pool: this.name, sessionId: rec.id, reason: rec.endReason ?? 'idle' });
    this.closeSession(rec.session);
    this.ensureCapacity();
  }

  private closeSession(ds: DriverSession): void {
    ds.onDied = undefined;
    const p = ds.close().catch(() => undefined);
    this.closings.add(p);
    void p.finally(() => this.closings.delete(p));
  }

  // ---------------------------------------------------------------------------------------------
  // Maintenance: health probes, lifetime and idle retirement

  private startMaintenance(): void {
    const { healthCheckIntervalMs, idleTimeoutMs, maxSessionLifetimeMs, partitionIdleTimeoutMs } = this.options;
    const periods = [healthCheckIntervalMs, idleTimeoutMs, maxSessionLifetimeMs, this.partitions ? partitionIdleTimeoutMs : 0].filter(
      (p) => p > 0,
    );
    if (periods.length === 0) return;
    const tick = Math.min(1000, Math.max(10, Math.floor(Math.min(...periods) / 4)));
    // Timers inherit the async context they are created in: keep callers' headers out of probes.
    this.maintenanceTimer = withoutRequestContext(() => setInterval(() => this.sweep(), tick));
    this.maintenanceTimer.unref();
  }

  private sweep(): void {
    if (this.lifecycle !== 'running') return;
    const now = Date.now();
    if (this.partitions && this.options.partitionIdleTimeoutMs > 0) {
      for (const idle of this.partitions.sweep(this.options.partitionIdleTimeoutMs, now)) this.closePartition(idle);
    }
    const { idleTimeoutMs, healthCheckIntervalMs, minSessions } = this.options;
    for (const rec of this.records) {
      if (rec.state !== 'ready') continue;
      // An expired session stops being lent now, even while busy: under steady load a multiplexed session
      // is never idle, so "retire when idle" alone would keep it forever. It is closed when its last lease
      // returns, never under a call.
      if (now >= rec.expiresAt) {
        this.retire(rec, 'lifetime');
        continue;
      }
      if (rec.inFlight > 0) continue;
      if (idleTimeoutMs > 0 && now - rec.idleSince >= idleTimeoutMs && this.records.size - this.retiring > minSessions) {
        this.retire(rec, 'idle');
      } else if (healthCheckIntervalMs > 0 && now >= rec.nextProbeAt) {
        // Traffic proves liveness as well as a ping does: only ping sessions quiet for a whole interval.
        const dueAt = rec.lastActiveAt + healthCheckIntervalMs * (1 - Math.random() * PROBE_JITTER);
        if (now >= dueAt) this.probe(rec);
        else rec.nextProbeAt = dueAt;
      }
    }
    this.ensureCapacity();
  }

  /** Pings an idle session while it is reserved, so no caller shares it with the probe. */
  private probe(rec: SessionRecord): void {
    rec.state = 'probing';
    this.slots.remove(rec);
    this.metrics.healthCheckCount++;
    const { healthCheckIntervalMs, healthCheckTimeoutMs } = this.options;
    const probe = this.options.healthProbe;
    withoutRequestContext(() =>
      probe
        ? // The probe's lease is not a borrowed slot (the session is reserved): releasing it does nothing.
          withTimeout(probe(this.reservedLease(rec)), healthCheckTimeoutMs, 'health probe')
        : rec.session.request('ping', undefined, { timeoutMs: healthCheckTimeoutMs }),
    ).then(
      () => {
        if (rec.state !== 'probing') return;
        const now = Date.now();
        rec.state = 'ready';
        rec.lastActiveAt = now;
        rec.nextProbeAt = now + healthCheckIntervalMs * (1 - Math.random() * PROBE_JITTER);
        this.slots.update(rec);
        this.dispatch();
      },
      (error: unknown) => {
        if (rec.state !== 'probing') return;
        this.metrics.healthCheckFailures++;
        this.events.emit('healthCheckFailed', { pool: this.name, sessionId: rec.id, error });
        this.evict(rec, 'health', error);
      },
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Shutdown

  private async doShutdown(): Promise<void> {
    if (this.lifecycle === 'created') {
      this.setLifecycle('closed');
      return;
    }
    this.beginDrain();
    const partitionsClosed = Promise.all((this.partitions?.clear() ?? []).map((p) => p.shutdown()));
    if (this.leased > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, this.options.drainTimeoutMs);
      });
      clearTimeout(timer);
      this.drained = undefined;
      if (this.leased > 0) this.log('warn', `drain timed out with ${this.leased} leases out; closing their sessions`);
    }
    this.setLifecycle('closed');
    for (const rec of this.records) {
      rec.closedByShutdown = true;
      rec.state = 'dead';
      this.slots.remove(rec);
      this.metrics.sessionsDestroyed++;
      this.events.emit('sessionDestroyed', { pool: this.name, sessionId: rec.id, reason: 'shutdown' });
      this.closeSession(rec.session);
    }
    this.records.clear();
    this.retiring = 0;
    await Promise.allSettled([...this.creations]);
    // Creations aborted above may still be finishing in the driver: each ends in a session (closed as a
    // late arrival) or a failure (the driver cleaned up): wait for both, then for every close they started.
    while (this.attempts.size > 0) await Promise.allSettled([...this.attempts]);
    while (this.closings.size > 0) await Promise.allSettled([...this.closings]);
    await partitionsClosed;
    // What the driver holds across sessions (its connections) goes last, once every session is closed.
    await this.driver.close?.().catch(() => undefined);
  }

  private stopTimers(): void {
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    if (this.creationTimer) clearTimeout(this.creationTimer);
    this.maintenanceTimer = this.creationTimer = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Reporting

  private gauges(): PoolGauges {
    let idle = 0;
    let active = 0;
    for (const rec of this.records) {
      if (rec.inFlight > 0) active++;
      else if (rec.state === 'ready') idle++;
    }
    return {
      state: this.lifecycle,
      active,
      idle,
      total: this.records.size,
      inFlight: this.leased,
      waiting: this.waiters.size,
      creating: this.creating,
      circuitState: this.circuit.poll(Date.now()),
    };
  }

  private summary(): PoolStateSummary {
    const g = this.gauges();
    return { total: g.total, idle: g.idle, inFlight: g.inFlight, waiting: g.waiting, creating: g.creating, circuit: g.circuitState };
  }

  private log(level: 'debug' | 'log' | 'warn' | 'error', message: string): void {
    const logger = this.options.logger;
    if (!logger) return;
    const text = `mcp pool "${this.name}": ${message}`;
    if (level === 'debug') logger.debug?.(text);
    else logger[level](text);
  }
}

/**
 * Resolves or rejects with `promise`, or rejects as soon as `signal` aborts. A value that arrives after
 * the abort is handed to `onLate` (so a session connected too late is closed, not leaked).
 */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, onLate: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const onAbort = () => {
      if (done) return;
      done = true;
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (done) return onLate(value);
        done = true;
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (done) return;
        done = true;
        reject(error);
      },
    );
  });
}


/** Rejects if `promise` has not settled within `ms` (the timer never outlives the race). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The headers of one request: the caller's context, then the lease's, then the call's (later wins). None
 * at all is the common case: no allocation then.
 */
function requestHeaders(
  context: Readonly<Record<string, string>> | undefined,
  lease: Readonly<Record<string, string>> | undefined,
  call: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> | undefined {
  if (!context && !lease && !call) return undefined;
  if (!lease && !call) return context;
  return mergeHeaders(context, lease, call);
}

import { withoutRequestContext } from '../context/request-context';
import { type AcquireOptions, Borrower } from './borrower';
import { CallPipeline } from './call-pipeline';
import { Capacity, authError } from './capacity';
import type { CircuitState } from './circuit-breaker';
import type { DriverConfig, McpProtocolEra, SessionDriver, SessionDriverFactory } from './driver';
import { McpPoolConfigError, McpPoolError, McpRequestError, PoolClosedError, PoolNotReadyError, SessionCreateError } from './errors';
import type { PoolEvents } from './events';
import { checkHealth, type McpPoolHealth } from './health';
import { McpLease } from './lease';
import { Maintenance } from './maintenance';
import type { McpCallToolResult, McpPrompt, McpResource, McpTool } from './mcp-types';
import type { PoolMetrics } from './metrics';
import { resolvePoolOptions, type McpPoolOptions, type ResolvedPoolOptions } from './options';
import { PartitionRouter } from './partition-router';
import { PoolContext, type PoolLifecycle } from './pool-context';
import type { PoolSlice } from './pool-slice';
import { RetryPolicy, type PoolCallOptions } from './retry-policy';
import { cachedTokenSource } from './token-cache';

export type { AcquireOptions } from './borrower';
export type { McpPoolHealth } from './health';
export type { PoolLifecycle } from './pool-context';
export type { PoolCallOptions } from './retry-policy';

/** A row of {@link McpPool.debugSnapshot}. */
export interface McpPoolSessionRow {
  pool: string;
  /** The partition (a keyed hash of the identity), or undefined for the shared sessions. */
  partition: string | undefined;
  id: number;
  state: string;
  ageMs: number;
  idleMs: number;
  inFlight: number;
  borrowCount: number;
  pid?: number;
}

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
 *
 * The facade wires the parts (see docs/architecture.md): the partition router picks the caller's slice;
 * the retry policy, the borrower and the call pipeline serve a call; capacity creates and ends sessions;
 * maintenance probes and recycles; this class owns the lifecycle (start, readiness, drain, shutdown).
 */
export class McpPool {
  readonly name: string;
  readonly options: Readonly<ResolvedPoolOptions>;
  readonly metrics: PoolMetrics;
  /** Typed event hooks: `pool.events.on('sessionDestroyed', (e) => …)`. */
  readonly events: PoolEvents;

  private readonly ctx: PoolContext;
  private readonly driver: SessionDriver;
  private readonly borrower: Borrower;
  /** The shared sessions' slice, and whether any other can exist (read on every borrow). */
  private readonly shared: PoolSlice;
  private readonly partitioned: boolean;
  private startPromise: Promise<void> | undefined;
  private shutdownPromise: Promise<void> | undefined;
  /** Callers of waitReady(). */
  private readyWaiters: Array<{ done: () => void; fail: (error: unknown) => void }> = [];

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
    let ctx: PoolContext | undefined;
    this.driver = this.options.driver ?? this.buildDriver((level, message) => ctx?.log(level, message));
    ctx = this.ctx = new PoolContext(this.options as ResolvedPoolOptions, this.driver);
    this.events = ctx.events;
    this.metrics = ctx.metrics;
    ctx.pipeline = new CallPipeline(ctx);
    ctx.retry = new RetryPolicy(ctx);
    ctx.borrower = new Borrower(ctx);
    ctx.capacity = new Capacity(ctx);
    ctx.maintenance = new Maintenance(ctx);
    const { pipeline, borrower } = ctx;
    ctx.host = {
      invoke: (lease, method, params, opts) => pipeline.invoke(lease, method, params, opts),
      release: (lease) => borrower.release(lease),
      poolName: this.name,
    };
    ctx.onSessionAdded = () => this.notifyReady();
    ctx.router = new PartitionRouter(ctx);
    this.borrower = ctx.borrower;
    this.shared = ctx.router.shared;
    this.partitioned = this.options.partitionBy !== undefined;
  }

  private buildDriver(log: DriverConfig['log']): SessionDriver {
    if (!this.driverFactory) {
      throw new McpPoolConfigError(this.name, [
        { field: 'driver', message: `is required: this McpPool has no built-in drivers (import McpPool from 'nestjs-mcp-pool' or 'nestjs-mcp-pool/core')` },
      ]);
    }
    const o = this.options;
    const auth = o.auth;
    return this.driverFactory({
      poolName: this.name,
      transport: o.transport,
      protocol: o.protocol,
      endpoint: o.endpoint,
      maxConnections: o.maxConnections > 0 ? o.maxConnections : o.maxSessions * (o.maxConcurrentPerSession + 1),
      headers: o.headers,
      bearerToken: auth === undefined ? undefined : typeof auth === 'string' ? () => auth : cachedTokenSource(auth, o.authCacheTtlMs),
      authProvider: o.authProvider,
      httpClient: o.httpClient,
      command: o.command,
      args: o.args,
      env: o.env,
      cwd: o.cwd,
      stderr: o.stderr,
      log,
    });
  }

  /** Where the pool is in its life. */
  get state(): PoolLifecycle {
    return this.ctx.lifecycle;
  }

  /** The circuit breaker's state (one per endpoint, every partition's creations included). */
  get circuitState(): CircuitState {
    return this.ctx.circuit.poll(Date.now());
  }

  /**
   * The protocol era the pool's sessions speak (`'legacy'` or `'modern'`), as the last session created
   * negotiated it; undefined before the first session (or when the driver does not say).
   */
  get protocolEra(): McpProtocolEra | undefined {
    return this.ctx.lastEra;
  }

  /** The last session-creation error while creations are failing (auth refusals included), else undefined. */
  get lastCreateError(): unknown {
    return this.ctx.lastCreateFailure;
  }

  /**
   * Warms `minSessions` and starts background maintenance. Resolves when the first warm-up attempts have
   * settled. A failed warm-up leaves the pool running and retrying with backoff, unless `failFast` is set:
   * then the pool shuts down and this rejects with a {@link SessionCreateError}.
   */
  start(): Promise<void> {
    if (this.startPromise) return this.startPromise;
    const ctx = this.ctx;
    if (ctx.lifecycle !== 'created') return Promise.reject(new PoolClosedError(this.name, 'closed'));
    ctx.setLifecycle('starting');
    this.startPromise = (async () => {
      ctx.maintenance.start();
      const shared = ctx.router.shared;
      ctx.capacity.ensure(shared);
      // Warm-up is a chain (one creation first, then the rest): wait for the shared sessions' until they
      // are up or failing. An identity partition's failure at the same time is that identity's, not the warm-up's.
      while (shared.store.creating > 0 && ctx.lifecycle === 'starting') {
        await Promise.allSettled([...ctx.capacity.creations]);
        if (ctx.circuit.failing || shared.auth.lastFailure !== undefined) break;
      }
      if (ctx.lifecycle !== 'starting') return; // shut down meanwhile
      ctx.setLifecycle('running');
      if (this.options.failFast && shared.store.records.size < this.options.minSessions) {
        const cause = shared.auth.lastFailure ?? ctx.lastCreateFailure;
        await this.shutdown();
        throw ctx.incompatible ?? new SessionCreateError(this.name, cause);
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
      const headers = opts?.headers;
      const got = this.borrower.acquireNow(this.sliceFor(headers), opts, headers && this.checked(headers));
      return got instanceof McpLease ? Promise.resolve(got) : got;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Returns a lease at once, or null when no slot is free right now (never waits on creation). */
  tryAcquire(opts?: Pick<AcquireOptions, 'headers'>): McpLease | null {
    const headers = opts?.headers;
    return this.borrower.tryAcquire(this.sliceFor(headers), headers && this.checked(headers));
  }

  /** Runs `fn` with a borrowed lease and always returns it, whatever `fn` does. */
  session<T>(fn: (lease: McpLease) => Promise<T> | T, opts?: AcquireOptions): Promise<T> {
    return this.routed(opts, (slice) => this.ctx.borrower.session(slice, fn, opts, this.checked(opts?.headers)));
  }

  /**
   * Borrows a session, calls a tool, returns the session. Retried once on a fresh session if the session
   * was lost and the call certainly did not run, or the tool is annotated read-only or idempotent.
   */
  callTool(name: string, args?: Record<string, unknown>, opts?: PoolCallOptions): Promise<McpCallToolResult> {
    return this.routed(opts, (slice) =>
      this.ctx.retry.withRetry(slice, (l) => l.callTool(name, args, opts), opts, () => slice.catalog.isToolSafeToRepeat(name)),
    );
  }

  /**
   * Every tool of the server (all pages), from the cache while fresh. A miss is one shared walk that
   * belongs to no caller; `signal` and `timeoutMs` bound only this caller's wait for it.
   */
  listTools(opts?: PoolCallOptions): Promise<McpTool[]> {
    return this.routed(opts, (slice) => slice.catalog.listTools(opts));
  }

  /** Every prompt of the server (all pages), cached like the tools. */
  listPrompts(opts?: PoolCallOptions): Promise<McpPrompt[]> {
    return this.routed(opts, (slice) => slice.catalog.listPrompts(opts));
  }

  /** Every resource of the server (all pages), cached like the tools. */
  listResources(opts?: PoolCallOptions): Promise<McpResource[]> {
    return this.routed(opts, (slice) => slice.catalog.listResources(opts));
  }

  /** Pings a pooled session (safe to retry). */
  ping(opts?: PoolCallOptions): Promise<void> {
    return this.routed(opts, (slice) => this.ctx.retry.withRetry(slice, (l) => l.ping(opts), opts, () => true));
  }

  /**
   * Runs a pool-level operation on the slice that serves the caller's identity. Whatever goes wrong before
   * the operation starts (every partition busy, bad headers) is a rejected promise, never a synchronous
   * throw: callers of an async method handle one kind of failure.
   */
  private routed<T>(opts: { headers?: Record<string, string> } | undefined, run: (slice: PoolSlice) => Promise<T>): Promise<T> {
    try {
      return run(this.sliceFor(opts?.headers));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private sliceFor(headers: Record<string, string> | undefined): PoolSlice {
    return this.partitioned ? this.ctx.router.sliceFor(headers) : this.shared;
  }

  private checked(headers: Record<string, string> | undefined): Record<string, string> | undefined {
    return headers ? this.ctx.pipeline.checkHeaders(headers) : undefined;
  }

  /** True while the pool runs with at least `minSessions` live shared sessions. */
  get isReady(): boolean {
    return this.ctx.accepting && this.ctx.router.shared.store.live >= this.options.minSessions;
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
        reject(new PoolNotReadyError(this.name, timeoutMs, this.ctx.router.shared.store.live, this.options.minSessions, this.ctx.lastCreateFailure));
      }, timeoutMs);
      this.readyWaiters.push(entry);
    });
  }

  private notifyReady(): void {
    if (this.readyWaiters.length === 0 || !this.isReady) return;
    for (const w of this.readyWaiters.splice(0)) w.done();
  }

  /**
   * Changes `minSessions`/`maxSessions` at run time. Growing takes effect at once (waiters are served by
   * the new capacity); shrinking retires idle sessions first (over every partition: `maxSessions` caps
   * them together) and the rest as their leases come back, never closing a session under a call.
   */
  resize(sizes: { minSessions?: number; maxSessions?: number }): void {
    const next = { minSessions: sizes.minSessions ?? this.options.minSessions, maxSessions: sizes.maxSessions ?? this.options.maxSessions };
    // Validated like the constructor's options (throws McpPoolConfigError naming the field).
    resolvePoolOptions({ ...this.rawOptions, ...next });
    const o = this.options as ResolvedPoolOptions; // options are read-only to users; resize is the one writer
    o.minSessions = next.minSessions;
    o.maxSessions = next.maxSessions;
    const ctx = this.ctx;
    let excess = ctx.totals.live - next.maxSessions;
    if (excess > 0) {
      const byIdleFirst = ctx.router
        .slices()
        .flatMap((s) => [...s.store.records])
        .filter((r) => r.state === 'ready' || r.state === 'probing')
        .sort((a, b) => a.inFlight - b.inFlight);
      for (const rec of byIdleFirst) {
        if (excess-- <= 0) break;
        ctx.capacity.retire(rec, 'resize');
      }
    }
    for (const slice of ctx.router.slices()) ctx.borrower.dispatch(slice);
    ctx.capacity.ensureAll();
  }

  /**
   * Whether the pool can serve, for health endpoints (see health.ts). Never throws; carries no caller's
   * headers, whoever calls it.
   */
  checkHealth(opts?: { timeoutMs?: number }): Promise<McpPoolHealth> {
    return withoutRequestContext(() => checkHealth(this.ctx, opts?.timeoutMs ?? this.options.healthCheckTimeoutMs));
  }

  /**
   * One row per session, for debugging: local id, state, age, idle time, leases held, borrow count, child
   * pid (stdio), partition. No secrets: no tokens, no headers, no server session ids.
   */
  debugSnapshot(): McpPoolSessionRow[] {
    const now = Date.now();
    return this.ctx.router.slices().flatMap((slice) =>
      [...slice.store.records].map((rec) => ({
        pool: this.name,
        partition: slice.key,
        id: rec.id,
        state: rec.state,
        ageMs: now - rec.createdAt,
        idleMs: rec.inFlight === 0 ? now - rec.idleSince : 0,
        inFlight: rec.inFlight,
        borrowCount: rec.borrowCount,
        ...(rec.session.pid ? { pid: rec.session.pid } : {}),
      })),
    );
  }

  /** Drops the cached tools, prompts and resources (of every partition); the next list call fetches them again. */
  invalidateToolsCache(): void {
    for (const slice of this.ctx.router.slices()) slice.catalog.invalidate();
  }

  /** Leases out, callers waiting or sessions being created. */
  get busy(): boolean {
    const t = this.ctx.totals;
    return t.leased > 0 || t.waiting > 0 || t.creating > 0;
  }

  /** Leases out plus callers waiting: how busy the pool is (for least-busy routing). */
  get load(): number {
    return this.ctx.totals.leased + this.ctx.totals.waiting;
  }

  /** Leases held by `tenant` right now (tenantLimit). */
  tenantInFlight(tenant: string): number {
    return this.ctx.borrower.tenantInFlight(tenant);
  }

  /**
   * Whether a call of this tool may run twice: the server's annotations (from the cached tools list of the
   * shared sessions) say `readOnlyHint` or `idempotentHint`.
   */
  isToolSafeToRepeat(name: string): boolean {
    return this.ctx.router.shared.catalog.isToolSafeToRepeat(name);
  }

  /**
   * Completes an OAuth authorization code flow started by the `authProvider` (the app got `code` on its
   * redirect URL). The provider stores the tokens; the next session creation uses them. `iss`: the `iss`
   * parameter of that redirect, if it had one (RFC 9207): the v2 client checks it against the issuer it
   * recorded (protocol 'auto' / 'modern'); the SDK 1.x client ignores it.
   */
  async finishAuth(authorizationCode: string, iss?: string): Promise<void> {
    const ctx = this.ctx;
    if (!this.driver.finishAuth || !this.options.authProvider) {
      throw new McpPoolError(this.name, `finishAuth needs an authProvider on a streamable_http pool`);
    }
    try {
      await this.driver.finishAuth(authorizationCode, iss);
    } catch (error) {
      // The library's types here too: a refused code is an auth error, anything else a failed request.
      const verdict = this.driver.classify(error, undefined);
      throw verdict.kind === 'auth' ? authError(this.name, verdict, error) : new McpRequestError(this.name, 'finishAuth', undefined, error);
    }
    for (const slice of ctx.router.slices()) slice.auth.authorized();
    ctx.capacity.ensureAll();
  }

  /**
   * Says the application is going away: health now reports `down` ("shutting down"), so a load balancer
   * stops sending traffic, while calls keep working (requests still being served may make more). Nest calls
   * this in `beforeApplicationShutdown`; `beginDrain()`/`shutdown()` stop the calls later.
   */
  markShuttingDown(): void {
    this.ctx.shuttingDown = true;
  }

  /** Whether {@link markShuttingDown} (or a drain) has been called. */
  get isShuttingDown(): boolean {
    return this.ctx.shuttingDown || !this.ctx.accepting && this.ctx.lifecycle !== 'created';
  }

  /**
   * Stops accepting work: new acquires and queued waiters are rejected with {@link PoolClosedError};
   * leases already out keep working. `shutdown()` finishes the drain (and calls this first).
   */
  beginDrain(): void {
    const ctx = this.ctx;
    if (ctx.lifecycle === 'draining' || ctx.lifecycle === 'closed') return;
    ctx.setLifecycle('draining');
    ctx.maintenance.stop();
    ctx.capacity.stop();
    const closed = () => new PoolClosedError(this.name, 'draining');
    ctx.borrower.rejectAll(closed);
    for (const w of this.readyWaiters.splice(0)) w.fail(closed());
    ctx.capacity.abortAll(closed());
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

  private async doShutdown(): Promise<void> {
    const ctx = this.ctx;
    if (ctx.lifecycle === 'created') {
      ctx.setLifecycle('closed');
      return;
    }
    this.beginDrain();
    if (ctx.totals.leased > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        ctx.drained = resolve;
        timer = setTimeout(resolve, this.options.drainTimeoutMs);
      });
      clearTimeout(timer);
      ctx.drained = undefined;
      if (ctx.totals.leased > 0) ctx.log('warn', `drain timed out with ${ctx.totals.leased} leases out; closing their sessions`);
    }
    ctx.setLifecycle('closed');
    for (const slice of ctx.router.slices()) {
      for (const rec of [...slice.store.records]) {
        rec.closedByShutdown = true;
        slice.store.remove(rec, 'shutdown');
      }
    }
    ctx.router.clear();
    // Creations aborted by the drain may still be finishing in the driver; then every close they and the
    // loop above started; then what the driver holds across sessions (connection pools).
    await ctx.capacity.settled();
    await ctx.closings.settled();
    await this.driver.close?.().catch(() => undefined);
  }
}

import { withoutRequestContext } from '../context/request-context';
import type { DriverSession } from './driver';
import { McpAuthError, McpAuthorizationRequiredError, McpProtocolVersionError, PoolUnavailableError, SessionCreateError, errorMessage } from './errors';
import type { ErrorVerdict } from './driver';
import type { SessionEndReason } from './events';
import { McpLease } from './lease';
import { collectPages } from './pages';
import type { PoolContext } from './pool-context';
import type { PoolSlice } from './pool-slice';
import { InFlightRequests, clientSpecFor, declaredCapabilities } from './server-questions';
import { SessionRecord, type RetireReason } from './session-record';
import { linkSignal } from '../util/signal-links';

/** Lifetime jitter: each session retires up to 2.5% early, so that sessions do not all retire at once. */
const LIFETIME_JITTER = 0.025;
/** Health-check jitter: each probe comes up to 10% early. */
export const PROBE_JITTER = 0.1;

/** Sessions ended by a failure: a replacement is due and cached lists are suspect. */
const FAILURES: ReadonlySet<SessionEndReason> = new Set(['died', 'lost', 'hung', 'health']);

/**
 * How many sessions each slice needs and getting them: `minSessions`, spike elision (one creation per
 * waiter nothing else will serve), slow start, backoff and the circuit (one per endpoint), `maxSessions`
 * as a hard cap over every slice (an identity that needs room takes it from another's idle session),
 * creation with every attempt, abort and late close tracked; and the end of sessions (evict, retire).
 */
export class Capacity {
  /** Creations under way, as the pool's warm-up waits for them. */
  readonly creations = new Set<Promise<void>>();
  /** Driver creations not yet settled, aborted ones included (see startCreation). */
  private readonly attempts = new Set<Promise<void>>();
  private readonly aborts = new Set<AbortController>();
  /** Slices whose creations wait on the endpoint (slow start, backoff, open circuit). */
  private readonly deferred = new Set<PoolSlice>();
  /** Slices with callers waiting while the pool is at `maxSessions`: served first when room appears. */
  private readonly needRoom = new Set<PoolSlice>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  /** Inside ensure(): a removal it causes (making room) does not re-enter it. */
  private ensuring = false;
  /** Sessions lost to failures and not yet replaced (for reconnectCount). */
  private replacementsDue = 0;

  constructor(private readonly ctx: PoolContext) {}

  /**
   * Starts the creations `slice` needs now: enough for its `minSessions`, plus one per waiter that neither
   * a free slot nor a creation under way will serve. While creations fail, at most one runs at a time in
   * the whole pool, spaced by backoff; an open circuit runs none until its probe is due. Room under
   * `maxSessions` is decided last, so a session is never closed to make room for a creation that then
   * does not start.
   */
  ensure(slice: PoolSlice): void {
    const ctx = this.ctx;
    this.deferred.delete(slice);
    this.needRoom.delete(slice);
    if (!ctx.accepting || slice.closed) return;
    const outer = !this.ensuring;
    this.ensuring = true;
    try {
      const need = this.need(slice);
      if (need.total <= 0) return;
      const now = Date.now();
      const circuit = ctx.circuit.poll(now);
      if (circuit === 'open') {
        this.deferred.add(slice);
        this.wakeAt(ctx.circuit.openUntil);
        return;
      }
      if (slice.auth.blocked || ctx.incompatible) return;
      let wanted = need.total;
      // Slow start: with no live session there is no proof the endpoint works, so one creation runs
      // first and the rest follow once it succeeds. While creations fail they stay one at a time, spaced
      // by backoff, however many callers wait.
      if (ctx.circuit.failing || circuit === 'half-open' || ctx.totals.records === 0) {
        if (ctx.totals.creating > 0) {
          this.deferred.add(slice);
          return;
        }
        if (now < ctx.circuit.nextAttemptAt) {
          this.deferred.add(slice);
          this.wakeAt(ctx.circuit.nextAttemptAt);
          return;
        }
        wanted = 1;
      }
      const room = this.room(slice, need);
      if (room <= 0) {
        // Served first when room appears; a slice that may not take room is still told when some frees up.
        (this.mayTakeRoom(slice, need) ? this.needRoom : this.deferred).add(slice);
        return;
      }
      wanted = Math.min(wanted, room);
      for (let i = 0; i < wanted; i++) this.startCreation(slice);
    } finally {
      if (outer) this.ensuring = false;
    }
  }

  /** Re-runs ensure() for the slices that were held back by the endpoint or by the cap. */
  ensureDeferred(): void {
    if (this.deferred.size === 0 && this.needRoom.size === 0) return;
    for (const slice of [...this.needRoom, ...this.deferred]) this.ensure(slice);
  }

  /** Every slice's needs (a timer fired, resize). */
  ensureAll(): void {
    for (const slice of this.ctx.router.slices()) this.ensure(slice);
  }

  /** How many sessions `slice` wants now, within its own cap (the pool's cap is {@link room}). */
  private need(slice: PoolSlice): { total: number; forMin: number; forWaiters: number } {
    const k = this.ctx.options.maxConcurrentPerSession;
    const s = slice.store;
    const forMin = slice.minSessions - s.live - s.creating;
    const unserved = slice.waiters.size - s.slots.freeSlots - s.creating * k;
    const forWaiters = unserved > 0 ? Math.ceil(unserved / k) : 0;
    const own = slice.maxSessions - s.records.size - s.creating;
    return { total: Math.min(own, Math.max(forMin, forWaiters)), forMin, forWaiters };
  }

  /**
   * Room under `maxSessions` for `slice`. A partition leaves the shared sessions' missing minimum free
   * (minSessions are a reservation). At the cap, a slice that may take room (below) gets it from another
   * slice's longest-idle spare session.
   */
  private room(slice: PoolSlice, need: { forMin: number; forWaiters: number }): number {
    const t = this.ctx.totals;
    const max = this.ctx.options.maxSessions;
    const shared = this.ctx.router.shared;
    const reserve = slice === shared ? 0 : Math.max(0, shared.minSessions - shared.store.live - shared.store.creating);
    const room = () => max - t.records - t.creating - reserve;
    if (room() <= 0 && this.mayTakeRoom(slice, need)) this.makeRoom(slice);
    return room();
  }

  /**
   * Who may close another identity's idle session to get one: the shared sessions below their minimum,
   * and an identity with callers waiting and no session at all. An identity that has a session waits for
   * it (taking room whenever it is busy for a moment would make two identities close each other's warm
   * sessions in turn).
   */
  private mayTakeRoom(slice: PoolSlice, need: { forMin: number; forWaiters: number }): boolean {
    if (slice === this.ctx.router.shared && need.forMin > 0) return true;
    return need.forWaiters > 0 && slice.store.live === 0 && slice.store.creating === 0;
  }

  /**
   * Retires the longest-idle session of another slice that can spare it (no waiters, above its minimum).
   * Returns whether one was closed.
   */
  private makeRoom(slice: PoolSlice): boolean {
    let victim: SessionRecord | undefined;
    for (const other of this.ctx.router.slices()) {
      if (other === slice || !other.waiters.isEmpty || other.store.live <= other.minSessions) continue;
      for (const rec of other.store.records) {
        if (rec.state === 'ready' && rec.inFlight === 0 && (!victim || rec.idleSince < victim.idleSince)) victim = rec;
      }
    }
    return victim !== undefined && this.retire(victim, 'rebalance');
  }

  /** A session just became idle: if another slice still waits for room, it goes to that slice. */
  offerIdle(rec: SessionRecord): void {
    if (this.needRoom.size === 0) return;
    // Entries go stale: the waiter was served by its own slice, timed out, or left.
    for (const s of this.needRoom) {
      const need = this.need(s);
      if (s.closed || need.total <= 0 || !this.mayTakeRoom(s, need)) this.needRoom.delete(s);
    }
    const slice = rec.slice;
    if (this.needRoom.size === 0 || !slice.waiters.isEmpty || slice.store.live <= slice.minSessions) return;
    if (this.needRoom.size === 1 && this.needRoom.has(slice)) return;
    this.retire(rec, 'rebalance');
  }

  private wakeAt(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ensureDeferred();
      this.ensure(this.ctx.router.shared);
    }, Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private startCreation(slice: PoolSlice): void {
    const ctx = this.ctx;
    slice.store.creationStarted();
    const ac = new AbortController();
    this.aborts.add(ac);
    const timeoutMs = ctx.options.connectTimeoutMs;
    const timer = setTimeout(() => ac.abort(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
    const started = Date.now();
    const requests = new InFlightRequests();
    // A session is shared: its initialize must not carry the headers of the caller that triggered it. Its
    // identity (a partition's) is the session's own, on every request from initialize on.
    const attempt = withoutRequestContext(() =>
      ctx.driver.create({ signal: ac.signal, timeoutMs, client: this.clientSpec(slice, requests), identity: slice.identity }),
    ).then(async (ds) => {
      // Until the session joins the pool, its death fails the creation: a child that exits during the
      // tools listing or the warm-up hook must not be added as a live session.
      let died: Error | undefined;
      ds.onDied = (reason) => (died ??= reason);
      try {
        await withoutRequestContext(async () => {
          await this.prepareSession(slice, ds, ac.signal);
          await this.runSessionReadyHook(slice, ds, requests);
        });
        if (died) throw died;
        return ds;
      } catch (error) {
        // Outside every caller's context: whoever triggered this creation, its close carries nobody's headers.
        await withoutRequestContext(() => ds.close());
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
    const p = raceAbort(attempt, ac.signal, (late) => ctx.closeSession(late))
      .then(
        (ds) => this.created(slice, ds, started, requests),
        (error: unknown) => this.createFailed(slice, error),
      )
      .finally(() => {
        clearTimeout(timer);
        this.aborts.delete(ac);
        this.creations.delete(p);
      });
    this.creations.add(p);
  }

  /** Lists the tools once on each new session, so that the SDK can validate structured tool output. */
  private async prepareSession(slice: PoolSlice, ds: DriverSession, signal: AbortSignal): Promise<void> {
    if (!ds.serverCapabilities?.tools) return;
    const generation = slice.catalog.toolsGeneration;
    const timeoutMs = this.ctx.options.connectTimeoutMs;
    let hintTtlMs: unknown;
    const tools = await collectPages(
      this.ctx.name,
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
    slice.catalog.offerTools(tools, generation, hintTtlMs);
  }

  /** The warm-up hook, on a session not yet in the pool (its lease's release does nothing). */
  private async runSessionReadyHook(slice: PoolSlice, ds: DriverSession, requests: InFlightRequests): Promise<void> {
    const hook = this.ctx.options.onSessionReady;
    if (!hook) return;
    const rec = new SessionRecord(slice, ds, Date.now(), Infinity, requests);
    await hook(reservedLease(this.ctx, rec));
  }

  /** The client every session of `slice` presents; `requests` are the pool's requests in flight on it. */
  private clientSpec(slice: PoolSlice, requests: InFlightRequests) {
    const o = this.ctx.options;
    const pool = { onElicitation: o.onElicitation, onSampling: o.onSampling, listRoots: o.listRoots };
    return clientSpecFor(
      {
        poolName: this.ctx.name,
        clientInfo: o.clientInfo,
        capabilities: declaredCapabilities(o.capabilities, pool),
        pool,
        listChanged: (list) => slice.catalog.listChanged(list),
        configureClient: o.configureClient,
      },
      requests,
    );
  }

  private created(slice: PoolSlice, ds: DriverSession, started: number, requests: InFlightRequests): void {
    const ctx = this.ctx;
    slice.store.creationSettled();
    if (!ctx.accepting || slice.closed) {
      ctx.closeSession(ds);
      this.ensureDeferred();
      return;
    }
    // resize() lowered maxSessions while this creation ran: maxSessions is a hard cap (over every slice),
    // so the session that arrives over it is closed, not kept. A retiring session still counts: it stays
    // open until its last call returns (the room for creations counts it too).
    if (slice.store.records.size >= slice.maxSessions || ctx.totals.records >= ctx.options.maxSessions) {
      ctx.circuit.onSuccess();
      ctx.closeSession(ds);
      ctx.borrower.dispatch(slice);
      this.ensure(slice);
      this.ensureDeferred();
      return;
    }
    const now = Date.now();
    const { maxSessionLifetimeMs, healthCheckIntervalMs } = ctx.options;
    const expiresAt = maxSessionLifetimeMs > 0 ? now + maxSessionLifetimeMs * (1 - Math.random() * LIFETIME_JITTER) : Infinity;
    const rec = new SessionRecord(slice, ds, now, expiresAt, requests);
    rec.nextProbeAt = now + healthCheckIntervalMs * (1 - Math.random() * PROBE_JITTER);
    ds.onDied = (reason) => this.evict(rec, 'died', reason);
    slice.store.add(rec);
    ctx.metrics.sessionsCreated++;
    if (this.replacementsDue > 0) {
      this.replacementsDue--;
      ctx.metrics.reconnectCount++;
    }
    ctx.circuit.onSuccess();
    // The endpoint works: its failure is over. One identity's refusal stays the shared sessions' until they succeed.
    if (slice === ctx.router.shared || !(ctx.lastCreateFailure instanceof McpAuthError)) ctx.lastCreateFailure = undefined;
    slice.auth.created();
    ctx.lastEra = ds.era ?? ctx.lastEra;
    ctx.log('debug', `session created in ${now - started} ms (${ctx.totals.records} sessions)`);
    ctx.events.emit('sessionCreated', { pool: ctx.name, sessionId: rec.id, durationMs: now - started });
    if (slice.key === undefined) ctx.onSessionAdded();
    ctx.borrower.dispatch(slice);
    this.ensure(slice);
    this.ensureDeferred();
  }

  private createFailed(slice: PoolSlice, error: unknown): void {
    const ctx = this.ctx;
    slice.store.creationSettled();
    if (!ctx.accepting) return;
    ctx.metrics.sessionCreateFailures++;
    ctx.metrics.errors++;
    const verdict = ctx.driver.classify(error, undefined);
    if (verdict.kind === 'incompatible') {
      // A permanent mismatch, not an outage: stop creating, tell everyone now, keep the circuit out of it.
      const incompatible = protocolError(ctx, verdict, error);
      ctx.incompatible = incompatible;
      ctx.lastCreateFailure = incompatible;
      ctx.log('error', incompatible.message);
      for (const s of ctx.router.slices()) for (const w of s.waiters.drain()) w.reject(incompatible);
      return;
    }
    if (verdict.kind === 'auth') {
      // Credentials were refused: retrying on our own would only hammer the server's auth limits. Tell
      // this identity's waiters now; its next caller tries again. Other identities are not affected.
      const refusal = authError(ctx.name, verdict, error);
      if (slice === ctx.router.shared) ctx.lastCreateFailure = refusal;
      slice.auth.refused(refusal, verdict.authorizationRequired === true && ctx.options.authProvider !== undefined);
      ctx.log('warn', `session creation was refused by the server (HTTP ${verdict.status ?? '401'})`);
      if (slice.store.records.size === 0) for (const w of slice.waiters.drain()) w.reject(authError(ctx.name, verdict, error));
      this.ensureDeferred();
      return;
    }
    if (slice !== ctx.router.shared && verdict.kind === 'call' && (verdict.status !== undefined || verdict.rpc !== undefined)) {
      // The server answered one identity's initialize with an error (a status or a JSON-RPC error): that
      // identity is refused, not the endpoint down — it does not count toward the circuit or put every
      // identity into backoff. Like an auth refusal: its waiters hear now, its next caller tries again.
      slice.auth.refused(error, false);
      ctx.log('warn', `the server refused a session for one identity partition: ${errorMessage(error)}`);
      ctx.events.emit('sessionCreateFailed', { pool: ctx.name, error, consecutiveFailures: ctx.circuit.consecutiveFailures });
      if (slice.store.records.size === 0) for (const w of slice.waiters.drain()) w.reject(new SessionCreateError(ctx.name, error));
      this.ensureDeferred();
      return;
    }
    ctx.lastCreateFailure = error;
    slice.auth.lastFailure = error;
    const opened = ctx.circuit.onFailure(error, Date.now());
    ctx.log('warn', `session creation failed (${ctx.circuit.consecutiveFailures} in a row): ${errorMessage(error)}`);
    ctx.events.emit('sessionCreateFailed', { pool: ctx.name, error, consecutiveFailures: ctx.circuit.consecutiveFailures });
    if (opened) {
      // The endpoint is down for everyone: every slice without a session fails its waiters now.
      const retryIn = ctx.circuit.openUntil - Date.now();
      for (const s of ctx.router.slices()) {
        if (s.store.records.size === 0) for (const w of s.waiters.drain()) w.reject(new PoolUnavailableError(ctx.name, retryIn, error));
      }
    }
    this.ensure(slice);
    this.ensureDeferred();
  }

  /** Removes a failed session at once and starts its replacement. It is never lent again. */
  evict(rec: SessionRecord, why: Extract<SessionEndReason, 'died' | 'lost' | 'hung' | 'health'>, error: unknown): void {
    if (rec.state === 'dead') return;
    if (!rec.slice.store.remove(rec, why, error)) this.ctx.closeSession(rec.session); // the warm-up hook's session
  }

  /** Retires a healthy session: now if idle, else when its last lease returns. Never mid-call. Returns whether it closed now. */
  retire(rec: SessionRecord, why: RetireReason): boolean {
    if (rec.state !== 'ready' && rec.state !== 'probing') return false;
    if (why === 'lifetime') this.ctx.metrics.recycledCount++;
    const now = rec.slice.store.retire(rec, why);
    if (!now) this.ensure(rec.slice); // its replacement starts while it finishes its calls
    return now;
  }

  /** The store's hook: a session ended (any reason). Reports it, closes it, and looks at what is needed now. */
  sessionRemoved(rec: SessionRecord, reason: SessionEndReason, error?: unknown): void {
    const ctx = this.ctx;
    const slice = rec.slice;
    slice.affinity.dropSession(rec);
    ctx.metrics.sessionsDestroyed++;
    if (FAILURES.has(reason)) {
      this.replacementsDue++;
      // A rebuilt session may see another server (restarted, upgraded): every identity's cached lists are stale.
      for (const s of ctx.router.slices()) s.catalog.invalidate();
      ctx.log('warn', `session evicted (${reason}): ${errorMessage(error)}`);
    } else if (slice.store.records.size === 0) {
      // The identity's last session is gone (rebalanced, idle, resized): nothing of it hears list_changed
      // any more, so a list cached for it could go stale unheard. Its next listing asks the server.
      slice.catalog.invalidate();
    }
    ctx.events.emit('sessionDestroyed', { pool: ctx.name, sessionId: rec.id, reason, ...(error !== undefined ? { error } : {}) });
    ctx.closeSession(rec.session);
    if (this.ensuring) return; // ensure() that made room goes on with the room
    this.ensure(slice);
    this.ensureDeferred();
  }

  /** Aborts every creation under way (their sessions, if they still arrive, are closed). */
  abortAll(reason: unknown): void {
    for (const ac of this.aborts) ac.abort(reason);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Resolves when every creation and every driver attempt has settled (shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.creations]);
    // Aborted creations may still be finishing in the driver: each ends in a session (closed as a late
    // arrival) or a failure (the driver cleaned up).
    while (this.attempts.size > 0) await Promise.allSettled([...this.attempts]);
  }
}

/**
 * A lease on a session the pool holds for itself (a probe, the warm-up hook): not a borrowed slot, so
 * releasing it does nothing, and its requests are not callers' calls.
 */
export function reservedLease(ctx: PoolContext, rec: SessionRecord): McpLease {
  const lease = new McpLease({ ...ctx.host, release: () => undefined }, rec, undefined, Date.now());
  lease.internal = true;
  return lease;
}

/** The server and this pool share no protocol version: a configuration error that names what the server speaks. */
export function protocolError(ctx: PoolContext, verdict: Extract<ErrorVerdict, { kind: 'incompatible' }>, error: unknown): McpProtocolVersionError {
  return new McpProtocolVersionError(ctx.name, verdict.supportedVersions, verdict.requestedVersion, ctx.options.protocol, error);
}

/**
 * An error that asks for the user's authorization (an OAuth provider waits) becomes
 * McpAuthorizationRequiredError, so the app can run the authorization flow; a plain 401/403 a McpAuthError.
 */
export function authError(pool: string, verdict: Extract<ErrorVerdict, { kind: 'auth' }>, error: unknown): McpAuthError {
  return verdict.authorizationRequired ? new McpAuthorizationRequiredError(pool, error) : new McpAuthError(pool, verdict.status, error);
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

import { type McpCallHandlers, currentMcpHandlers, currentMcpHeaders, mergeHeaders } from '../context/request-context';
import { CREDENTIAL_HEADERS, isIdentityHeader } from '../util/headers';
import { linkSignal } from '../util/signal-links';
import { authError, protocolError } from './capacity';
import {
  CallTimeoutError,
  McpPoolConfigError,
  McpPoolError,
  McpRequestError,
  OperationAbortedError,
  PoolClosedError,
  RateLimitedError,
  SessionLostError,
  serverErrorFor,
} from './errors';
import type { CallOptions, McpLease } from './lease';
import type { McpMethod, McpParams, McpResult } from './mcp-types';
import { headerProblems } from './options';
import type { PoolContext } from './pool-context';
import { MAX_RETRY_AFTER_MS, sleep } from './rate-limiter';
import type { PoolRequest } from './server-questions';
import type { SessionRecord } from './session-record';

/**
 * Errors of calls whose caller was asked a question (elicitation, sampling) before they failed: the retry
 * policy runs none of them again, since that would ask the user a second time.
 */
export const ASKED_CALLER = new WeakSet<object>();

/** The cause of a RateLimitedError raised by the pool's own limiter (not the server's 429): never retried. */
export const LOCAL_LIMIT = new Error('the pool\'s own rate limiter (rateLimit)');

/** The headers of a request that carries none of the caller's (all were identity headers on a shared session). */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** A run of this many timeouts in a row on one session marks it hung: it is evicted. */
const HUNG_AFTER_TIMEOUTS = 3;

/**
 * One request on a lease, end to end: checks (released lease, dead session, headers), the caller's signal
 * linked through a fresh controller, rate-limit admission, per-request headers, instrumentation, metrics
 * and events, and the driver's error turned into the library's typed error (with what it means for the
 * session: evicted, probed, hung).
 */
export class CallPipeline {
  /** Identity headers already warned about (once each). */
  private readonly warnedIdentityHeaders = new Set<string>();

  constructor(private readonly ctx: PoolContext) {}

  async invoke<M extends McpMethod>(lease: McpLease, method: M, params: McpParams<M>, opts: CallOptions | undefined): Promise<McpResult<M>> {
    const ctx = this.ctx;
    if (lease.isReleased) throw new McpPoolError(ctx.name, `${method} was called on a lease that was already released; it was not sent`);
    const rec = lease.record;
    if (rec.state === 'dead') {
      throw new SessionLostError(ctx.name, method, false, new Error('the session was closed before the call was sent'));
    }
    const timeoutMs = opts?.timeoutMs ?? ctx.options.callTimeoutMs;
    // Headers are checked before the signal is linked: a throw between the two would leave the link (and
    // its listener on the caller's signal) behind.
    const extra = opts?.headers ? this.checkHeaders(opts.headers) : undefined;
    // A fresh AbortController per request (see signal-links.ts: the SDK never removes the listener it adds).
    const signal = opts?.signal;
    let link: { controller: AbortController; unlink: () => void } | undefined;
    if (signal) {
      if (signal.aborted) throw new OperationAbortedError(ctx.name, method, signal.reason);
      link = linkSignal(signal);
    }
    const counted = !lease.internal; // the pool's own requests (warm-up hook, probe) are not callers' calls
    if (counted) ctx.metrics.calls++;
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
      // Each further wire request of this one (an input_required retry) is admitted by the limiter too.
      beforeResend: ctx.rateLimiter ? () => this.admit(method, link?.controller.signal, timeoutMs) : undefined,
    };
    let sent = false;
    let abandoned = false;
    const send = (): Promise<McpResult<M>> => {
      // Headers are read here, inside the instrumentation's context (it may add trace headers).
      if (ctx.driver.supportsHeaders) {
        const headers = requestHeaders(currentMcpHeaders(), lease.headers, extra);
        // Headers the shared sessions may not carry are dropped; when none is left the request still says so
        // (an empty set, not undefined), so a driver never falls back to the caller's context headers.
        request.headers = headers && rec.slice.key === undefined ? (this.sharedSessionHeaders(headers, method) ?? NO_HEADERS) : headers;
      }
      // In flight from the moment it is sent (not while the rate limiter holds it); the finally below removes it.
      rec.requests.add(request);
      sent = true;
      return rec.session.request(method, params, request);
    };
    const instrumentation = ctx.options.instrumentation;
    // The instrumentation sees the typed error (an exporter classifies the library's errors, not an SDK's).
    const call = instrumentation
      ? () =>
          instrumentation.wrapCall(
            { pool: ctx.name, method, toolName, sessionId: rec.session.remoteId, transport: ctx.driver.kind, partition: rec.slice.key, era: rec.session.era },
            async () => {
            try {
              return await send();
            } catch (error) {
              throw this.failCall(rec, method, error, link, timeoutMs);
            }
          },
          )
      : send;
    const t0 = performance.now();
    try {
      if (ctx.rateLimiter) {
        if (lease.prepaid) lease.prepaid = false; // admitted before the slot was taken (see RetryPolicy)
        else await this.admit(method, link?.controller.signal, timeoutMs);
      }
      const result = await call();
      const ms = performance.now() - t0;
      if (counted) ctx.metrics.callLatency.record(ms);
      rec.consecutiveTimeouts = 0;
      rec.lastActiveAt = Date.now();
      if (ctx.events.has('callCompleted')) ctx.events.emit('callCompleted', { pool: ctx.name, sessionId: rec.id, method, durationMs: ms });
      return result;
    } catch (error) {
      const ms = performance.now() - t0;
      if (counted) ctx.metrics.callLatency.record(ms);
      const translated = this.failCall(rec, method, error, link, timeoutMs);
      if (ctx.events.has('callCompleted')) {
        ctx.events.emit('callCompleted', { pool: ctx.name, sessionId: rec.id, method, durationMs: ms, error: translated });
      }
      abandoned = translated instanceof CallTimeoutError || translated instanceof OperationAbortedError;
      if (request.askedCaller && typeof translated === 'object' && translated !== null) ASKED_CALLER.add(translated);
      throw translated;
    } finally {
      // A request given up (deadline, abort) may still run on the server: see InFlightRequests.soleHandlers.
      if (sent) rec.requests.delete(request, abandoned);
      link?.unlink();
    }
  }

  /**
   * Waits for the rate limiter's permission to send one request. Bounded by the caller's deadline
   * (`deadlineMs`, 0: none): a wait that would outlast it is refused at once with a RateLimitedError that
   * says how long it would have been. The caller's abort and the pool's drain end the wait early; a
   * reservation that is not used goes back to the limiter.
   */
  async admit(method: string, signal: AbortSignal | undefined, deadlineMs: number): Promise<void> {
    const ctx = this.ctx;
    const limiter = ctx.rateLimiter!;
    const delay = limiter.reserve(Date.now());
    if (delay <= 0) return;
    if (deadlineMs > 0 && delay > deadlineMs) {
      limiter.refund();
      ctx.metrics.errors++;
      throw new RateLimitedError(
        ctx.name,
        LOCAL_LIMIT,
        delay,
        `rateLimit would hold ${method} for ${Math.round(delay)} ms, past its ${deadlineMs} ms deadline; raise rateLimit.requestsPerSecond or the deadline, or shed load`,
      );
    }
    try {
      await sleep(delay, signal, ctx.drainSignal);
    } catch (reason) {
      limiter.refund();
      if (reason instanceof PoolClosedError) throw reason;
      throw new OperationAbortedError(ctx.name, method, reason);
    }
  }

  /** Per-request headers are checked once, where they enter: the transport must carry them, values must be valid. */
  checkHeaders(headers: Record<string, string>): Record<string, string> {
    const ctx = this.ctx;
    if (!ctx.driver.supportsHeaders) {
      throw new McpPoolConfigError(ctx.name, [
        { field: 'headers', message: `cannot be sent on a ${ctx.driver.kind} pool (there is no HTTP request to carry them)` },
      ]);
    }
    const problems = headerProblems('headers', headers);
    if (problems.length) throw new McpPoolConfigError(ctx.name, problems);
    return headers;
  }

  /** Translated once, wherever it is first seen: the driver's error becomes the library's typed error. */
  private failCall(rec: SessionRecord, method: string, error: unknown, link: { controller: AbortController } | undefined, timeoutMs: number): unknown {
    return error instanceof McpPoolError ? error : this.translate(rec, method, error, link?.controller.signal, timeoutMs);
  }

  /** The driver's verdict on an error, as a typed error and what it means for the session. */
  private translate(rec: SessionRecord, method: string, error: unknown, signal: AbortSignal | undefined, timeoutMs: number): unknown {
    const ctx = this.ctx;
    ctx.metrics.errors++;
    ctx.metrics.callErrors++;
    if (signal?.aborted) return new OperationAbortedError(ctx.name, method, signal.reason);
    if (rec.closedByShutdown) return new PoolClosedError(ctx.name, 'closed', error, true);
    const verdict = ctx.driver.classify(error, rec.session);
    switch (verdict.kind) {
      case 'timeout':
        ctx.metrics.callTimeouts++;
        if (++rec.consecutiveTimeouts >= HUNG_AFTER_TIMEOUTS) ctx.capacity.evict(rec, 'hung', error);
        return new CallTimeoutError(ctx.name, method, timeoutMs, error);
      case 'session-fatal':
        ctx.capacity.evict(rec, 'lost', error);
        // The server refused a session it once knew (restarted, or expired it): the other idle sessions of
        // this identity are suspect too. Probe them now, so that a retry gets a validated or a fresh
        // session, not the next stale one.
        if (!verdict.mayHaveRun) {
          for (const other of rec.slice.store.records) if (other.state === 'ready' && other.inFlight === 0) ctx.maintenance.probe(other);
        }
        return new SessionLostError(ctx.name, method, verdict.mayHaveRun, error);
      case 'auth':
        return authError(ctx.name, verdict, error);
      case 'rate-limited':
        // The server refused the request (it did not run): pause everyone for as long as it asked.
        ctx.rateLimiter?.pauseUntil(Date.now() + Math.min(verdict.retryAfterMs ?? 1000, MAX_RETRY_AFTER_MS));
        return new RateLimitedError(ctx.name, error, verdict.retryAfterMs);
      case 'incompatible':
        return protocolError(ctx, verdict, error);
      case 'call':
        return verdict.rpc ? serverErrorFor(ctx.name, method, verdict.rpc, error) : new McpRequestError(ctx.name, method, verdict.status, error);
    }
  }

  /**
   * The per-request headers a shared session may carry (not one identity's partition): a credential is an
   * error (it would authenticate a shared session's request as that caller), other identity headers stay
   * off the wire (see isIdentityHeader). Names only in errors and logs, never values.
   */
  private sharedSessionHeaders(headers: Readonly<Record<string, string>>, method: string): Readonly<Record<string, string>> | undefined {
    let kept: Record<string, string> | undefined;
    for (const name of Object.keys(headers)) {
      if (CREDENTIAL_HEADERS.has(name)) {
        throw new McpPoolConfigError(this.ctx.name, [
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
          this.ctx.log('warn', `the identity header "${name}" is not sent on shared sessions; partition the pool by it (partitionBy) to send it`);
        }
      }
    }
    if (!kept) return headers;
    return Object.keys(kept).length > 0 ? kept : undefined;
  }
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

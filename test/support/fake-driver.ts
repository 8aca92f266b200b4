// A scriptable in-process driver for unit tests of the core: no network, full control over creation
// (delays, failures) and session death. Fakes are for the unit level only; integration tests use real servers.
import { AsyncResource } from 'node:async_hooks';
import { sleep as delay } from '../../lib/core/rate-limiter';
import type { CreateSessionContext, DriverRequestOptions, DriverSession, ErrorVerdict, McpClientSpec, SessionDriver } from '../../lib/core/driver';
import type { McpMethod, McpParams, McpResult } from '../../lib/core/mcp-types';
import { currentMcpHeaders } from '../../lib/context/request-context';

/** A creation the fake refuses with a scripted verdict (see FakeDriver.refuse). */
export class FakeRefusal extends Error {
  constructor(readonly verdict: ErrorVerdict) {
    super(`the fake server refused the session (${verdict.kind})`);
  }
}

export class FakeSession implements DriverSession {
  onDied?: (reason: Error) => void;
  closed = false;
  readonly remoteId: string;
  readonly client = undefined;
  /** This session's close time, over the driver's closeDelayMs. */
  closeDelayMs: number | undefined;
  /** No tools capability: the core then lists no tools at creation. */
  readonly serverCapabilities = {};
  /**
   * The async context of the session's "pipe": where a stdio child's messages arrive, whoever's call is in
   * flight. Bound when the session is created (the pool creates sessions outside every caller's context).
   */
  private readonly pipe = new AsyncResource('FakeSessionPipe');

  constructor(
    readonly index: number,
    private readonly driver: FakeDriver,
    /** The client the core asked for (its `answer()` routes the server's questions). */
    readonly spec?: McpClientSpec,
    /** The identity headers the core asked this session to carry (a partition's). */
    readonly identity?: Readonly<Record<string, string>>,
  ) {
    this.remoteId = `fake-${index}`;
  }

  /** Runs `fn` as a message arriving on the session's own pipe: outside the async context of any caller. */
  fromPipe<T>(fn: () => T): T {
    return this.pipe.runInAsyncScope(fn);
  }

  /** Only ping (probes) is scripted; unit tests drive calls through `driver.onRequest`. */
  async request<M extends McpMethod>(method: M, params: McpParams<M>, options: DriverRequestOptions): Promise<McpResult<M>> {
    if (this.closed) throw new Error('Not connected');
    if (this.driver.onRequest) return (await this.driver.onRequest(this, method, params, options)) as McpResult<M>;
    if (method === 'ping') {
      if (this.driver.pingFails) throw new Error('Not connected');
      return {} as McpResult<M>;
    }
    throw new Error(`the fake session has no script for ${method}`);
  }

  /** Simulates the transport dying on its own (child exit, connection closed). */
  die(): void {
    if (this.closed) return;
    this.onDied?.(new Error('fake session died'));
  }

  /** Marks the session closed; `open` counts it as gone only once its (scripted) close time has passed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // What an HTTP driver's fetch would put on the DELETE: a close must run outside every caller's context.
    this.driver.closeContexts.push(currentMcpHeaders());
    this.driver.onClose?.(this);
    const ms = this.closeDelayMs ?? this.driver.closeDelayMs;
    if (ms > 0) await delay(ms);
    if (this.driver.gate) await this.driver.gate(`close session ${this.index}`);
    this.driver.open--;
  }
}

export class FakeDriver implements SessionDriver {
  readonly kind = 'fake';
  readonly supportsHeaders = true;
  /** Answers requests (all methods) when set. */
  onRequest?: (session: FakeSession, method: McpMethod, params: unknown, options: DriverRequestOptions) => Promise<unknown>;
  /** Sessions handed out and not yet closed. */
  open = 0;
  maxOpen = 0;
  attempts = 0;
  inFlightCreates = 0;
  maxInFlightCreates = 0;
  /** The most sessions open and being created at once (what maxSessions caps). */
  maxHeld = 0;
  readonly sessions: FakeSession[] = [];
  /** Fail this many of the next creations. */
  failNext = 0;
  /** Fail every creation while true. */
  down = false;
  createDelayMs = 0;
  pingFails = false;
  /** How long a session's close takes (a child that is slow to exit). */
  closeDelayMs = 0;
  /** The request context each close ran in (undefined: none). */
  readonly closeContexts: Array<Readonly<Record<string, string>> | undefined> = [];
  /** Refuses creations for some identities with the verdict it returns (undefined: accept). */
  refuse?: (identity: Readonly<Record<string, string>> | undefined) => ErrorVerdict | undefined;
  /**
   * When set, every creation and every close waits for it (a test hands it to fast-check's scheduler, so
   * that creations and closes finish in an order the test chooses). A creation whose signal aborts stops
   * waiting for its gate, then waits for one more (its clean-up) before it rejects.
   */
  gate?: (label: string) => Promise<void>;
  /** Told when a creation starts, with its signal (before it counts in `creatingNow`). */
  onCreateStart?: (ctx: CreateSessionContext) => void;
  /** Told when a session is closed (synchronously, before the close completes). */
  onClose?: (session: FakeSession) => void;
  /** The signals of the creations running in the driver right now, aborted ones included. */
  readonly creatingNow = new Set<AbortSignal>();

  async create(ctx: CreateSessionContext): Promise<DriverSession> {
    this.attempts++;
    this.onCreateStart?.(ctx);
    this.inFlightCreates++;
    this.maxHeld = Math.max(this.maxHeld, this.open + this.inFlightCreates);
    this.creatingNow.add(ctx.signal);
    this.maxInFlightCreates = Math.max(this.maxInFlightCreates, this.inFlightCreates);
    try {
      if (this.createDelayMs > 0) await delay(this.createDelayMs, ctx.signal);
      if (this.gate) {
        const label = `create #${this.attempts}`;
        // An aborted creation still takes its time to clean up (a child being stopped), past the abort.
        await raceSignal(this.gate(label), ctx.signal).catch(async (error: unknown) => {
          if (ctx.signal.aborted) await this.gate!(`${label} cleaning up after its abort`);
          throw error;
        });
      }
      ctx.signal.throwIfAborted();
      const refusal = this.refuse?.(ctx.identity);
      if (refusal) throw new FakeRefusal(refusal);
      if (this.down || this.failNext > 0) {
        if (this.failNext > 0) this.failNext--;
        throw new Error('connect ECONNREFUSED (fake)');
      }
      const s = new FakeSession(this.sessions.length, this, ctx.client, ctx.identity);
      this.sessions.push(s);
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      return s;
    } finally {
      this.inFlightCreates--;
      this.creatingNow.delete(ctx.signal);
    }
  }

  classify(error: unknown): ErrorVerdict {
    if (error instanceof FakeRefusal) return error.verdict;
    return error instanceof Error && /died|Not connected/.test(error.message)
      ? { kind: 'session-fatal', mayHaveRun: true }
      : { kind: 'call' };
  }

  live(): FakeSession[] {
    return this.sessions.filter((s) => !s.closed);
  }
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Sleeps `ms` (rejects when `signal` aborts): the library's own helper. */
export { delay };

/** Resolves on the next turn of the event loop, after pending promise callbacks. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

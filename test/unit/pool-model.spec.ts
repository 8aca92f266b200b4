// The model test: one pool driven through random command sequences that combine identity partitions, the
// rate limiter, per-call server-question handlers (questions asked in the caller's request and on the
// session's own pipe, outside every caller's context, as stdio does), affinity keys, resize (up and down,
// while sessions are being created), faults (a session dying mid-call, creation failures, calls that hang
// until their deadline), aborts and shutdown at a random point.
//
// Time is fake (Jest's fake timers: every deadline, backoff and rate-limiter wait is a timer the model
// advances with an `advance` command), and every creation, close and step of a fake tool waits for
// fast-check's scheduler (`step` commands release them in an order fast-check picks), so one seed replays
// one interleaving exactly and a failure shrinks to a short sequence.
//
// Checked after every command and at the end:
// - slots: a session never has more borrowers at once than maxConcurrentPerSession (counted at the fake
//   server: every request names its borrow, and leases the model holds count from lend to release);
// - cap: live plus creating sessions, over all partitions together, never exceed maxSessions (at every
//   creation the driver sees, and after every command, allowing only sessions that were already there when
//   resize() lowered the cap, until they are gone);
// - settle: every operation settles exactly once (a count per operation id, checked after shutdown: a
//   missing one is an operation still pending when shutdown() resolved), a tool request reaches the server
//   at most once (the fake tools are not idempotent), a session(fn) callback runs at most once, every borrow
//   is returned once (borrow and return events, partitions included), and callers only ever see the
//   library's typed errors;
// - questions: each question carries the id of the request that caused it; the handler that answers is that
//   request's own or the pool-level one, it is answered at most once, and a question arriving in its own
//   request's response is answered by that request's handler when it brought one;
// - after shutdown: every fake session closed, no creation running in the driver, no timer left, nothing
//   pending, the pool's gauges at zero.
//
// `npm test` runs 400 cases (MODEL_RUNS), and half as many on a pool without partitions; `npm run model --
// --runs 10000 [--seed S --path P]` runs more and replays a failure (the seed and path fast-check prints).
// `--ignore cap` (MODEL_IGNORE=cap) leaves the cap check out, for work on the rest while identity partitions
// are still separate sub-pools (the cap over all partitions fails then).
import fc from 'fast-check';
import { McpPool, McpPoolError, type McpLease, type McpPoolOptions } from '../../lib';
import type { DriverRequestOptions } from '../../lib/core/driver';
import type { McpElicitParams, McpElicitResult } from '../../lib/core/mcp-types';
import { FakeDriver, type FakeSession } from '../support/fake-driver';
import { watchListenerWarnings } from '../support/listener-warnings';

type Step = 'ask-in' | 'ask-out' | 'die' | 'error' | '429' | 'hang' | 'ok';
/** What one fake tool call does, step by step (each step waits for the scheduler). */
interface Plan {
  steps: Step[];
  /** When its caller gives up (deadline, abort), the tool keeps running and asks one more question later. */
  linger: boolean;
}

interface Config {
  maxSessions: number;
  minSessions: number;
  maxConcurrent: number;
  partitioned: boolean;
  maxPartitions: number;
  perPartition: number;
  partitionIdleMs: number;
  rate: { rps: number; burst: number } | undefined;
  poolHandler: boolean;
  maxWaiters: number;
  drainMs: number;
  callTimeoutMs: number;
  acquireTimeoutMs: number;
  healthMs: number;
  lifetimeMs: number;
  idleMs: number;
}

type Op =
  | { kind: 'call'; user: number; handler: boolean; plan: Plan; timeoutMs?: number; abortable: boolean; affinity?: number; acquireTimeoutMs?: number }
  | { kind: 'session'; user: number; handlers: boolean[]; plans: Plan[]; abortable: boolean; affinity?: number; acquireTimeoutMs?: number }
  | { kind: 'hold'; user: number; affinity?: number; acquireTimeoutMs?: number; abortable: boolean }
  | { kind: 'list'; user: number; abortable: boolean; timeoutMs?: number; hang: boolean }
  | { kind: 'leaseCall'; pick: number; handler: boolean; plan: Plan; timeoutMs?: number }
  | { kind: 'release'; pick: number }
  | { kind: 'abort'; pick: number }
  | { kind: 'step'; n: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'resize'; max: number; min: number }
  | { kind: 'failCreates'; n: number }
  | { kind: 'kill'; pick: number }
  | { kind: 'tryAcquire'; user: number }
  | { kind: 'health'; timeoutMs: number }
  | { kind: 'drain' }
  | { kind: 'shutdown' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.constant('ask-in' as const), weight: 3 },
  { arbitrary: fc.constant('ask-out' as const), weight: 3 },
  { arbitrary: fc.constant('ok' as const), weight: 3 },
  { arbitrary: fc.constant('die' as const), weight: 1 },
  { arbitrary: fc.constant('error' as const), weight: 1 },
  { arbitrary: fc.constant('429' as const), weight: 1 },
  { arbitrary: fc.constant('hang' as const), weight: 1 },
);
const planArb: fc.Arbitrary<Plan> = fc.record({ steps: fc.array(stepArb, { maxLength: 3 }), linger: fc.boolean() });
const userArb = fc.integer({ min: 0, max: 3 });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        kind: fc.constant('call' as const),
        user: userArb,
        handler: fc.boolean(),
        plan: planArb,
        timeoutMs: maybe(fc.integer({ min: 5, max: 150 })),
        abortable: fc.boolean(),
        affinity: maybe(fc.integer({ min: 0, max: 2 })),
        acquireTimeoutMs: maybe(fc.integer({ min: 5, max: 150 })),
      },
      { requiredKeys: ['kind', 'user', 'handler', 'plan', 'abortable'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.tuple(planArb, fc.boolean()), { minLength: 1, maxLength: 2 })
      .chain((calls) =>
        fc.record(
          {
            kind: fc.constant('session' as const),
            user: userArb,
            plans: fc.constant(calls.map((c) => c[0])),
            handlers: fc.constant(calls.map((c) => c[1])),
            abortable: fc.boolean(),
            affinity: maybe(fc.integer({ min: 0, max: 2 })),
            acquireTimeoutMs: maybe(fc.integer({ min: 5, max: 150 })),
          },
          { requiredKeys: ['kind', 'user', 'plans', 'handlers', 'abortable'] },
        ),
      ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constant('hold' as const),
        user: userArb,
        affinity: maybe(fc.integer({ min: 0, max: 2 })),
        acquireTimeoutMs: maybe(fc.integer({ min: 5, max: 150 })),
        abortable: fc.boolean(),
      },
      { requiredKeys: ['kind', 'user', 'abortable'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      { kind: fc.constant('leaseCall' as const), pick: fc.nat(), handler: fc.boolean(), plan: planArb, timeoutMs: maybe(fc.integer({ min: 5, max: 150 })) },
      { requiredKeys: ['kind', 'pick', 'handler', 'plan'] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { kind: fc.constant('list' as const), user: userArb, abortable: fc.boolean(), timeoutMs: maybe(fc.integer({ min: 5, max: 150 })), hang: fc.boolean() },
      { requiredKeys: ['kind', 'user', 'abortable', 'hang'] },
    ),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('step' as const), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resize' as const), max: fc.integer({ min: 1, max: 4 }), min: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('failCreates' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kill' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tryAcquire' as const), user: userArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('health' as const), timeoutMs: fc.integer({ min: 1, max: 60 }) }) },
);

/** The commands, with shutdown() or beginDrain() inserted at a random point (or only shutdown() at the end). */
const commandsArb: fc.Arbitrary<Op[]> = fc
  .tuple(
    fc.array(opArb, { minLength: 1, maxLength: 80, size: 'medium' }),
    fc.option(fc.tuple(fc.nat(), fc.constantFrom('shutdown' as const, 'drain' as const)), { nil: undefined, freq: 1 }),
  )
  .map(([ops, at]) => {
    if (at === undefined) return ops;
    const i = at[0] % (ops.length + 1);
    return [...ops.slice(0, i), { kind: at[1] }, ...ops.slice(i)];
  });

const configArb: fc.Arbitrary<Config> = fc.record({
  maxSessions: fc.integer({ min: 1, max: 3 }),
  minSessions: fc.integer({ min: 0, max: 1 }),
  maxConcurrent: fc.integer({ min: 1, max: 3 }),
  partitioned: fc.boolean(),
  maxPartitions: fc.integer({ min: 1, max: 3 }),
  perPartition: fc.integer({ min: 1, max: 2 }),
  partitionIdleMs: fc.constantFrom(0, 40, 150),
  rate: fc.option(fc.record({ rps: fc.integer({ min: 20, max: 400 }), burst: fc.integer({ min: 1, max: 3 }) }), { nil: undefined }),
  poolHandler: fc.boolean(),
  maxWaiters: fc.integer({ min: 2, max: 12 }),
  drainMs: fc.integer({ min: 0, max: 60 }),
  callTimeoutMs: fc.integer({ min: 30, max: 300 }),
  acquireTimeoutMs: fc.integer({ min: 10, max: 200 }),
  healthMs: fc.constantFrom(0, 0, 40),
  lifetimeMs: fc.constantFrom(0, 0, 60, 200),
  idleMs: fc.constantFrom(0, 0, 50),
});

/** One model operation (a pool call, a session(fn), an acquire, a call on a held lease). */
interface OpRecord {
  id: number;
  kind: Op['kind'];
  settled: number;
  outcome?: string;
  ac?: AbortController;
  /** session(fn): how many times fn ran. */
  fnRuns: number;
}

/** One tool request the model asked for (a retry of it carries the same id). */
interface RequestRecord {
  id: number;
  /** Times it reached the fake server (the tools are not idempotent: at most once). */
  ran: number;
  handler: boolean;
}

interface Question {
  id: number;
  asker: number;
  inContext: boolean;
  answeredBy: Array<number | 'pool'>;
}

interface Held {
  id: number;
  lease: McpLease;
  callsInFlight: number;
}

/** Checks which the model may be told to leave out (MODEL_IGNORE=cap), for work on the other ones while the cap is known to fail. */
const IGNORED = new Set((process.env.MODEL_IGNORE ?? '').split(',').filter(Boolean));

/** Lets promise callbacks and real immediates run (setImmediate is not faked). */
async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

async function runModel(cfg: Config, ops: Op[], s: fc.Scheduler): Promise<void> {
  const violations: string[] = [];
  const violate = (what: string, detail: string) => {
    if (IGNORED.has(what)) return;
    violations.push(`${what}: ${detail}`);
  };
  const driver = new FakeDriver();
  driver.gate = (label) => s.schedule(Promise.resolve(), label);

  // --- the fake server -------------------------------------------------------------------------------
  const pendingOn = new Map<FakeSession, Set<(e: Error) => void>>();
  const failPending = (session: FakeSession, message: string) => {
    const pending = pendingOn.get(session);
    if (!pending) return;
    pendingOn.delete(session);
    for (const fail of pending) fail(new Error(message));
  };
  driver.onClose = (session) => failPending(session, 'Connection closed (fake)');
  driver.classify = (error) => {
    const message = error instanceof Error ? error.message : String(error);
    if (/timed out/.test(message)) return { kind: 'timeout' };
    if (/Connection closed|fake session died/.test(message)) return { kind: 'session-fatal', mayHaveRun: true };
    if (/Not connected/.test(message)) return { kind: 'session-fatal', mayHaveRun: false }; // never sent
    if (/429/.test(message)) return { kind: 'rate-limited', retryAfterMs: 10 }; // refused: did not run
    return { kind: 'call' };
  };
  const kill = (session: FakeSession) => {
    failPending(session, 'Connection closed (fake session died)');
    session.die();
  };

  // Slots: the borrows active on each session (a borrow id → how many of its requests are in flight, or the
  // held lease itself).
  const borrows = new Map<FakeSession, Map<number, number>>();
  const borrowOn = (session: FakeSession, borrow: number) => {
    let m = borrows.get(session);
    if (!m) borrows.set(session, (m = new Map()));
    m.set(borrow, (m.get(borrow) ?? 0) + 1);
    if (m.size > cfg.maxConcurrent) {
      violate('slots', `session ${session.index} lent to ${m.size} borrowers at once (${[...m.keys()].join(', ')}), maxConcurrentPerSession ${cfg.maxConcurrent}`);
    }
  };
  const borrowOff = (session: FakeSession, borrow: number) => {
    const m = borrows.get(session)!;
    const n = m.get(borrow)! - 1;
    if (n <= 0) m.delete(borrow);
    else m.set(borrow, n);
  };

  // Questions.
  const questions = new Map<number, Question>();
  let nextQuestion = 0;
  const stats = { asked: 0, byOwn: 0, byPool: 0, refused: 0 };
  const answerAs =
    (who: number | 'pool') =>
    (params: McpElicitParams): McpElicitResult => {
      const q = questions.get(Number(params.message.slice(2)));
      if (!q) {
        violate('questions', `a handler got a question the fake server never asked: ${params.message}`);
        return { action: 'decline' };
      }
      q.answeredBy.push(who);
      if (who !== 'pool' && who !== q.asker) {
        violate('questions', `question ${q.id} of request ${q.asker} (${q.inContext ? 'in its response' : 'on the pipe'}) was answered by request ${who}'s handler`);
      }
      return { action: 'accept', content: { by: String(who) } };
    };
  const requests = new Map<number, RequestRecord>();
  /** Sessions on which a request was given up (deadline, abort): the server may still be running it. */
  const abandonedOn = new Set<FakeSession>();
  /** The pending entry of each tool request in flight (to tell whether it is the only one on its session). */
  const requestFail = new Map<number, (e: Error) => void>();
  const ask = async (session: FakeSession, asker: number, origin: DriverRequestOptions | undefined) => {
    const spec = session.spec!;
    const q: Question = { id: nextQuestion++, asker, inContext: origin !== undefined, answeredBy: [] };
    questions.set(q.id, q);
    stats.asked++;
    const params: McpElicitParams = { message: `q:${q.id}`, requestedSchema: { type: 'object', properties: {} } };
    // Who must answer (server-questions.ts): the request the question arrived in, when the driver names it;
    // else the only request in flight on the session, unless a request given up there may still be running;
    // else the pool-level handler; else nobody (refused).
    const r = requests.get(asker);
    const inFlight = pendingOn.get(session)?.size ?? 0;
    const named = origin !== undefined || (inFlight === 1 && pendingOn.get(session)!.has(requestFail.get(asker)!) && !abandonedOn.has(session));
    const expected: number | 'pool' | undefined = named && r?.handler ? asker : cfg.poolHandler ? 'pool' : undefined;
    try {
      await spec.answer('elicitation/create', params, { signal: new AbortController().signal, requestId: q.id }, origin);
    } catch {
      stats.refused++;
    }
    if (q.answeredBy.length > 1) violate('questions', `question ${q.id} answered ${q.answeredBy.length} times`);
    const by = q.answeredBy[0];
    if (by === 'pool') stats.byPool++;
    else if (by !== undefined) stats.byOwn++;
    if (by !== expected && (by === 'pool' || by === undefined || by === asker)) {
      violate(
        'questions',
        `question ${q.id} of request ${asker} (${q.inContext ? 'in its response' : `on the pipe, ${inFlight} requests in flight${abandonedOn.has(session) ? ', one given up before' : ''}`}) was answered by ${by ?? 'nobody'}, not ${expected ?? 'nobody'}`,
      );
    }
  };

  /** A fake tool: runs its plan, honours the request's deadline and signal like an SDK client, fails when the session closes. */
  const runTool = (session: FakeSession, args: { req: number; borrow: number; plan: Plan }, options: DriverRequestOptions): Promise<unknown> => {
    const req = requests.get(args.req)!;
    req.ran++;
    if (req.ran > 1) violate('settle', `request ${req.id} reached the server ${req.ran} times (the tool is not idempotent)`);
    borrowOn(session, args.borrow);
    return new Promise((resolve, reject) => {
      let done = false;
      const lingerAfterCancel = () => {
        if (!args.plan.linger) return;
        // The server ignores the cancellation: the tool asks one more question later, on the pipe.
        void s.schedule(Promise.resolve(), `late question of request ${req.id}`).then(() => {
          if (!session.closed) return session.fromPipe(() => ask(session, req.id, undefined));
        });
      };
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        pendingOn.get(session)?.delete(fail);
        borrowOff(session, args.borrow);
        settle();
      };
      const fail = (e: Error) => finish(() => reject(e));
      const timer = setTimeout(() => {
        abandonedOn.add(session);
        finish(() => reject(new Error(`Request timed out (fake) after ${options.timeoutMs} ms`)));
        lingerAfterCancel();
      }, options.timeoutMs);
      const onAbort = () => {
        abandonedOn.add(session);
        finish(() => reject(options.signal!.reason));
        lingerAfterCancel();
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let pending = pendingOn.get(session);
      if (!pending) pendingOn.set(session, (pending = new Set()));
      pending.add(fail);
      requestFail.set(req.id, fail);
      void (async () => {
        for (const step of args.plan.steps) {
          await s.schedule(Promise.resolve(), `request ${req.id}: ${step}`);
          if (done || session.closed) return;
          switch (step) {
            case 'ask-in':
              await ask(session, req.id, options);
              break;
            case 'ask-out':
              await session.fromPipe(() => ask(session, req.id, undefined));
              break;
            case 'die':
              kill(session);
              return;
            case 'error':
              return finish(() => reject(new Error('tool failed (fake JSON-RPC error)')));
            case '429':
              req.ran--; // the server refused it: it did not run (a retry may run it once)
              return finish(() => reject(new Error('HTTP 429 Too Many Requests (fake)')));
            case 'hang':
              return; // only its deadline, its signal or the session's close ends it
            case 'ok':
              return finish(() => resolve({ content: [{ type: 'text', text: `request ${req.id}` }] }));
          }
        }
        await s.schedule(Promise.resolve(), `request ${req.id}: answer`);
        finish(() => resolve({ content: [{ type: 'text', text: `request ${req.id}` }] }));
      })();
    });
  };
  // A ping is a health probe (on a session reserved for it) or checkHealth's (on a lease): either way a
  // borrower of its own, so a probe sharing a session with a caller shows as a slot lent twice.
  let pings = 0;
  const runPing = (session: FakeSession, options: DriverRequestOptions): Promise<unknown> =>
    new Promise((resolve, reject) => {
      let done = false;
      const borrow = -1_000_000 - ++pings;
      borrowOn(session, borrow);
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        pendingOn.get(session)?.delete(fail);
        borrowOff(session, borrow);
        settle();
      };
      const fail = (e: Error) => finish(() => reject(e));
      const timer = setTimeout(() => {
        abandonedOn.add(session);
        finish(() => reject(new Error('ping timed out (fake)')));
      }, options.timeoutMs);
      let pending = pendingOn.get(session);
      if (!pending) pendingOn.set(session, (pending = new Set()));
      pending.add(fail);
      void s.schedule(Promise.resolve(), `ping session ${session.index}`).then(() => finish(() => resolve({})));
    });
  // tools/list: one page, answered when the scheduler says (or never: only the walk's deadline ends it).
  // The pool's shared walk borrows its own lease: it counts as a borrower of its own.
  let lists = 0;
  const runList = (session: FakeSession, options: DriverRequestOptions): Promise<unknown> => {
    const borrow = -++lists;
    borrowOn(session, borrow);
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        pendingOn.get(session)?.delete(fail);
        borrowOff(session, borrow);
        settle();
      };
      const fail = (e: Error) => finish(() => reject(e));
      const timer = setTimeout(() => {
        abandonedOn.add(session);
        finish(() => reject(new Error('tools/list timed out (fake)')));
      }, options.timeoutMs);
      const onAbort = () => {
        abandonedOn.add(session);
        finish(() => reject(options.signal!.reason));
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let pending = pendingOn.get(session);
      if (!pending) pendingOn.set(session, (pending = new Set()));
      pending.add(fail);
      const hang = listsHang;
      void s.schedule(Promise.resolve(), `tools/list on session ${session.index}${hang ? ' (hangs)' : ''}`).then(() => {
        if (!hang) finish(() => resolve({ tools: [{ name: 't', inputSchema: { type: 'object' } }] }));
      });
    });
  };
  let listsHang = false;
  driver.onRequest = (session, method, params, options) => {
    if (method === 'ping') return runPing(session, options);
    if (method === 'tools/list') return runList(session, options);
    if (method === 'tools/call') return runTool(session, (params as { arguments: { req: number; borrow: number; plan: Plan } }).arguments, options);
    return Promise.reject(new Error(`the model's fake server has no ${method}`));
  };

  // --- the cap over all partitions ---------------------------------------------------------------------
  let currentMax = cfg.maxSessions;
  let allowed = currentMax;
  /** Creations that were running when resize() lowered the cap (they may finish; see 'resize'). */
  const overCap = new Set<AbortSignal>();
  const activeCreates = () => [...driver.creatingNow].filter((signal) => !signal.aborted).length;
  driver.onCreateStart = () => {
    const live = driver.live().length;
    const creating = activeCreates();
    if (live + creating + 1 > currentMax) {
      violate('cap', `a creation started with ${live} live + ${creating} creating sessions already, maxSessions ${currentMax} (over all partitions)`);
    }
  };

  // --- the pool ----------------------------------------------------------------------------------------
  const options: McpPoolOptions = {
    name: 'model',
    driver,
    // With partitions, minSessions must leave room below maxSessions (the pool refuses min == max then).
    minSessions: Math.min(cfg.minSessions, cfg.partitioned ? cfg.maxSessions - 1 : cfg.maxSessions),
    maxSessions: cfg.maxSessions,
    maxConcurrentPerSession: cfg.maxConcurrent,
    maxWaiters: cfg.maxWaiters,
    acquireTimeoutMs: cfg.acquireTimeoutMs,
    callTimeoutMs: cfg.callTimeoutMs,
    connectTimeoutMs: 50,
    drainTimeoutMs: cfg.drainMs,
    healthCheckIntervalMs: cfg.healthMs,
    healthCheckTimeoutMs: 20,
    maxSessionLifetimeMs: cfg.lifetimeMs,
    idleTimeoutMs: cfg.idleMs,
    toolCacheTtlMs: 0,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 5,
    failureThreshold: 4,
    recoveryInitialMs: 10,
    recoveryTimeoutMs: 40,
    capabilities: { elicitation: { form: {} } },
    ...(cfg.poolHandler ? { onElicitation: answerAs('pool') } : {}),
    ...(cfg.rate ? { rateLimit: { requestsPerSecond: cfg.rate.rps, burst: cfg.rate.burst } } : {}),
    ...(cfg.partitioned
      ? { partitionBy: ['authorization'], maxPartitions: cfg.maxPartitions, maxSessionsPerPartition: cfg.perPartition, partitionIdleTimeoutMs: cfg.partitionIdleMs }
      : {}),
  };
  const pool = new McpPool(options);
  let borrowEvents = 0;
  let returnEvents = 0;
  pool.events.on('borrow', () => borrowEvents++);
  pool.events.on('return', () => returnEvents++);

  const ops_: OpRecord[] = [];
  const held: Held[] = [];
  const untyped: unknown[] = [];
  let nextId = 1;
  const headersOf = (user: number) => (cfg.partitioned && user > 0 ? { authorization: `Bearer user-${user}` } : undefined);
  const affinityOf = (a: number | undefined) => (a === undefined ? undefined : `conversation-${a}`);
  const newOp = (kind: Op['kind'], abortable: boolean): OpRecord => {
    const rec: OpRecord = { id: nextId++, kind, settled: 0, fnRuns: 0, ac: abortable ? new AbortController() : undefined };
    ops_.push(rec);
    return rec;
  };
  const newRequest = (handler: boolean): RequestRecord => {
    const r: RequestRecord = { id: nextId++, ran: 0, handler };
    requests.set(r.id, r);
    return r;
  };
  const track = (rec: OpRecord, p: Promise<unknown>) => {
    p.then(
      () => {
        rec.settled++;
        rec.outcome = 'ok';
      },
      (error: unknown) => {
        rec.settled++;
        rec.outcome = error instanceof Error ? error.constructor.name : typeof error;
        if (!(error instanceof McpPoolError)) untyped.push(error);
      },
    );
  };
  const sessionOf = (lease: McpLease) => lease.record.session as FakeSession;
  const toolArgs = (req: RequestRecord, borrow: number, plan: Plan) => ({ req: req.id, borrow, plan }) as unknown as Record<string, unknown>;

  const check = (where: string) => {
    for (const h of held) {
      if (h.lease.record.inFlight > cfg.maxConcurrent) violate('slots', `a session has ${h.lease.record.inFlight} leases, maxConcurrentPerSession ${cfg.maxConcurrent}`);
    }
    const observed = driver.live().length + [...driver.creatingNow].filter((signal) => !signal.aborted && !overCap.has(signal)).length;
    if (observed > allowed) violate('cap', `${observed} live + creating sessions over all partitions after ${where}, maxSessions ${currentMax}`);
    allowed = Math.max(currentMax, Math.min(allowed, observed));
    for (const r of ops_) if (r.settled > 1 || r.fnRuns > 1) violate('settle', `operation ${r.id} settled ${r.settled} times, its callback ran ${r.fnRuns} times`);
    if (untyped.length) violate('settle', `a caller got an error that is not the library's: ${String(untyped[0])}`);
    if (violations.length) throw new Error(`after ${where}:\n  ${[...new Set(violations)].join('\n  ')}`);
  };

  let ending = false;
  let shutdown: Promise<void> | undefined;
  let shutdownDone = false;
  const startShutdown = () => {
    shutdown ??= pool.shutdown().then(() => {
      shutdownDone = true;
    });
  };

  // start() waits for the warm-up creation, which waits for the scheduler: run start and the scheduler together.
  let started = false;
  void pool.start().then(
    () => (started = true),
    () => (started = true),
  );
  for (let i = 0; i < 50 && !started; i++) {
    if (s.count() > 0) await s.waitNext(1);
    else await jest.advanceTimersByTimeAsync(5);
    await flush();
  }

  for (const [index, op] of ops.entries()) {
    switch (op.kind) {
      case 'call': {
        const rec = newOp('call', op.abortable);
        const req = newRequest(op.handler);
        track(
          rec,
          pool.callTool('t', toolArgs(req, rec.id, op.plan), {
            headers: headersOf(op.user),
            signal: rec.ac?.signal,
            timeoutMs: op.timeoutMs,
            acquireTimeoutMs: op.acquireTimeoutMs,
            affinityKey: affinityOf(op.affinity),
            ...(op.handler ? { onElicitation: answerAs(req.id) } : {}),
          }),
        );
        break;
      }
      case 'session': {
        const rec = newOp('session', op.abortable);
        track(
          rec,
          pool.session(
            async (lease) => {
              rec.fnRuns++;
              const session = sessionOf(lease);
              borrowOn(session, rec.id);
              try {
                for (const [i, plan] of op.plans.entries()) {
                  const req = newRequest(op.handlers[i]!);
                  await lease.callTool('t', toolArgs(req, rec.id, plan), {
                    signal: rec.ac?.signal,
                    ...(op.handlers[i] ? { onElicitation: answerAs(req.id) } : {}),
                  });
                }
              } finally {
                borrowOff(session, rec.id);
              }
            },
            { headers: headersOf(op.user), signal: rec.ac?.signal, acquireTimeoutMs: op.acquireTimeoutMs, affinityKey: affinityOf(op.affinity) },
          ),
        );
        break;
      }
      case 'hold': {
        const rec = newOp('hold', op.abortable);
        track(
          rec,
          pool.acquire({ headers: headersOf(op.user), signal: rec.ac?.signal, acquireTimeoutMs: op.acquireTimeoutMs, affinityKey: affinityOf(op.affinity) }).then((lease) => {
            if (lease.record.state === 'dead') violate('slots', `acquire ${rec.id} was lent a dead session`);
            if (ending) return lease.release(); // the model is giving everything back
            held.push({ id: rec.id, lease, callsInFlight: 0 });
            borrowOn(sessionOf(lease), rec.id);
          }),
        );
        break;
      }
      case 'list': {
        // The shared list walk belongs to no caller: this caller's signal and deadline bound only its own wait.
        const rec = newOp('list', op.abortable);
        listsHang = op.hang;
        track(rec, pool.listTools({ headers: headersOf(op.user), signal: rec.ac?.signal, timeoutMs: op.timeoutMs }));
        break;
      }
      case 'leaseCall': {
        if (held.length === 0) break;
        const h = held[op.pick % held.length]!;
        const rec = newOp('leaseCall', false);
        const req = newRequest(op.handler);
        h.callsInFlight++;
        const p = h.lease.callTool('t', toolArgs(req, h.id, op.plan), { timeoutMs: op.timeoutMs, ...(op.handler ? { onElicitation: answerAs(req.id) } : {}) });
        track(rec, p);
        void p.catch(() => undefined).finally(() => h.callsInFlight--);
        break;
      }
      case 'release': {
        // A lease is released when none of its calls is in flight (releasing under a call is the user's bug).
        const idle = held.filter((h) => h.callsInFlight === 0);
        if (idle.length === 0) break;
        const h = idle[op.pick % idle.length]!;
        held.splice(held.indexOf(h), 1);
        borrowOff(sessionOf(h.lease), h.id);
        h.lease.release();
        break;
      }
      case 'abort': {
        const abortable = ops_.filter((r) => r.ac && r.settled === 0 && !r.ac.signal.aborted);
        if (abortable.length) abortable[op.pick % abortable.length]!.ac!.abort(new Error('the caller gave up'));
        break;
      }
      case 'step':
        for (let i = 0; i < op.n && s.count() > 0; i++) await s.waitNext(1);
        break;
      case 'advance':
        await jest.advanceTimersByTimeAsync(op.ms);
        break;
      case 'resize': {
        const min = Math.min(op.min, op.max);
        const before = { currentMax, allowed, overCap: new Set(overCap) };
        // The new cap holds from the call on (resize() starts the creations growing allows, synchronously).
        // Sessions already live when it shrinks may stay until they are gone; creations already running may
        // finish, but a session they bring over the cap must be closed, not kept.
        currentMax = op.max;
        for (const signal of driver.creatingNow) overCap.add(signal);
        allowed = Math.max(op.max, driver.live().length);
        try {
          pool.resize({ minSessions: min, maxSessions: op.max });
        } catch (error) {
          if (!(error instanceof McpPoolError)) throw error;
          ({ currentMax, allowed } = before);
          overCap.clear();
          for (const signal of before.overCap) overCap.add(signal);
        }
        break;
      }
      case 'failCreates':
        driver.failNext += op.n;
        break;
      case 'kill': {
        const live = driver.live();
        if (live.length) kill(live[op.pick % live.length]!);
        break;
      }
      case 'tryAcquire': {
        // Synchronous: a lease or null at once, or a throw (draining, closed, every partition busy).
        try {
          const lease = pool.tryAcquire({ headers: headersOf(op.user) });
          if (lease) {
            if (lease.record.state === 'dead') violate('slots', 'tryAcquire lent a dead session');
            const rec = newOp('hold', false);
            rec.settled = 1;
            rec.outcome = 'ok';
            held.push({ id: rec.id, lease, callsInFlight: 0 });
            borrowOn(sessionOf(lease), rec.id);
          }
        } catch (error) {
          if (!(error instanceof McpPoolError)) untyped.push(error);
        }
        break;
      }
      case 'health': {
        // Never throws; borrows an idle session for its ping (a borrower like any other).
        const rec = newOp('health', false);
        track(rec, pool.checkHealth({ timeoutMs: op.timeoutMs }));
        break;
      }
      case 'drain':
        pool.beginDrain();
        break;
      case 'shutdown':
        startShutdown();
        break;
    }
    await flush();
    check(`command ${index} (${op.kind})`);
  }

  // --- the end: give everything back, shut down, and let it finish ------------------------------------
  ending = true;
  // Leases are given back once their calls are done (releasing one under its call is the user's bug).
  const releaseIdle = () => {
    for (const h of held.filter((x) => x.callsInFlight === 0)) {
      held.splice(held.indexOf(h), 1);
      borrowOff(sessionOf(h.lease), h.id);
      h.lease.release();
    }
  };
  releaseIdle();
  startShutdown();
  for (let i = 0; i < 3000 && !shutdownDone; i++) {
    releaseIdle();
    if (s.count() > 0) await s.waitNext(1);
    else await jest.advanceTimersByTimeAsync(5);
    await flush();
  }
  if (!shutdownDone) violate('after shutdown', `shutdown() did not resolve (${s.count()} scheduled tasks, ${jest.getTimerCount()} timers)`);
  await flush();
  // A lease still out when the drain timed out is the caller's to give back, after shutdown too.
  releaseIdle();
  const unsettled = ops_.filter((r) => r.settled === 0);
  if (unsettled.length) violate('settle', `operations still pending after shutdown() resolved: ${unsettled.map((r) => `${r.kind} ${r.id}`).join(', ')}`);
  if (driver.live().length) violate('after shutdown', `${driver.live().length} fake sessions still open: ${driver.live().map((x) => x.index).join(', ')}`);
  if (driver.open !== 0) violate('after shutdown', `${driver.open} fake sessions whose close has not completed`);
  if (driver.creatingNow.size) violate('after shutdown', `${driver.creatingNow.size} creations still running in the driver`);
  if (jest.getTimerCount() !== 0) violate('after shutdown', `${jest.getTimerCount()} timers left`);
  const snap = pool.metrics.snapshot();
  if (snap.total || snap.waiting || snap.creating || snap.inFlight || snap.state !== 'closed') {
    violate('after shutdown', `gauges not at zero: ${JSON.stringify({ total: snap.total, waiting: snap.waiting, creating: snap.creating, inFlight: snap.inFlight, state: snap.state })}`);
  }
  if (borrowEvents !== returnEvents) violate('settle', `${borrowEvents} borrows but ${returnEvents} returns`);
  // What the fake server still had scheduled (steps of tools whose session closed) must not wake the pool.
  await s.waitIdle();
  await flush();
  if (jest.getTimerCount() !== 0) violate('after shutdown', `${jest.getTimerCount()} timers after the fake server's leftovers ran`);
  if (driver.live().length || driver.creatingNow.size) violate('after shutdown', 'a session was opened after shutdown');
  check('shutdown');
  totals.runs++;
  totals.asked += stats.asked;
  totals.byOwn += stats.byOwn;
  totals.byPool += stats.byPool;
  totals.refused += stats.refused;
  for (const r of ops_) totals.outcomes[`${r.kind}:${r.outcome ?? 'pending'}`] = (totals.outcomes[`${r.kind}:${r.outcome ?? 'pending'}`] ?? 0) + 1;
}

/** A small seeded PRNG (uniform in [0, 1)). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const totals = { runs: 0, asked: 0, byOwn: 0, byPool: 0, refused: 0, outcomes: {} as Record<string, number> };

const runs = Number(process.env.MODEL_RUNS ?? 400);
const seed = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);
const path = process.env.MODEL_PATH;

/** The model over `configs`, `runs` times (the seed and path of MODEL_SEED / MODEL_PATH replay one failure). */
async function checkModel(configs: fc.Arbitrary<Config>, runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(configs, commandsArb, fc.scheduler(), fc.integer(), async (cfg, ops, s, randomSeed) => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate'], now: 1_000_000 });
      // The pool's jitter (backoff, lifetime, probes) comes from Math.random: seeded, so a seed replays a run exactly.
      const random = jest.spyOn(Math, 'random').mockImplementation(mulberry32(randomSeed));
      // A listener count Node would warn about (MaxListenersExceededWarning) is a finding too.
      const listeners = watchListenerWarnings();
      try {
        await runModel(cfg, ops, s);
        const warnings = listeners.stop();
        if (warnings.length && !IGNORED.has('warnings')) throw new Error(`warnings: Node would print MaxListenersExceededWarning: ${warnings[0]}`);
      } finally {
        listeners.stop();
        random.mockRestore();
        jest.clearAllTimers();
        jest.useRealTimers();
      }
    }),
    { numRuns: runs, seed, path, verbose: process.env.MODEL_VERBOSE ? 2 : 0 },
  );
  if (process.env.MODEL_STATS) console.log(JSON.stringify(totals));
}

it(
  'keeps slots, the cap over all partitions, settlement and question routing intact under random commands, and leaves nothing after shutdown',
  () => checkModel(configArb, runs),
  Math.max(60_000, runs * 200),
);

// The same model without identity partitions, so that every check keeps running in `npm test` while the one
// above stops at its first failure (today: the cap over all partitions, which are separate sub-pools).
const unpartitionedRuns = Math.ceil(runs / 2);
it(
  'keeps the same invariants on a pool without identity partitions',
  () => checkModel(configArb.map((c) => ({ ...c, partitioned: false })), unpartitionedRuns),
  Math.max(60_000, unpartitionedRuns * 200),
);

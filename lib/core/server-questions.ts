import { currentMcpHandlers, type McpCallHandlers } from '../context/request-context';
import type { DriverRequestOptions, McpClientSpec, ServerQuestionExtra } from './driver';
import { McpPoolError } from './errors';
import type { McpClientCapabilities, McpRoot, McpServerQuestionMethod, McpServerQuestions } from './mcp-types';

/** A request the pool makes for a caller: the driver's options plus who answers the server's questions. */
export interface PoolRequest extends DriverRequestOptions {
  /** The caller's handlers (per-call options merged over its context's); undefined: it brought none. */
  readonly handlers?: Readonly<McpCallHandlers>;
  /**
   * An elicitation or sampling handler was asked on this request's behalf: the pool does not run the call
   * again of its own accord (its retries), which would ask the user a second time.
   */
  askedCaller?: boolean;
}

/**
 * The pool's requests in flight on one session, as the router needs them: how many, and those whose caller
 * brought handlers. A plain counter for all and a set only for the few with handlers: the common call
 * (no handlers) pays an increment, not a hash-set insert.
 */
export class InFlightRequests {
  private count = 0;
  private readonly answering = new Set<PoolRequest>();
  /**
   * A request was given up without the server's answer (its deadline passed, its caller aborted): the
   * server may still be running it (cancellation is advisory) and ask its questions later, so from then on
   * "the only request in flight" no longer proves who asked.
   */
  private abandoned = false;

  add(request: PoolRequest): void {
    this.count++;
    if (request.handlers) this.answering.add(request);
  }

  /** Call once for each add(); `abandoned`: it ended without the server's answer (timeout, abort). */
  delete(request: PoolRequest, abandoned = false): void {
    this.count--;
    if (request.handlers) this.answering.delete(request);
    if (abandoned) this.abandoned = true;
  }

  get size(): number {
    return this.count;
  }

  /**
   * The handlers of the only request in flight, if exactly one is, it brought any, and no request given up
   * on this session may still be running on the server.
   */
  soleHandlers(): Readonly<McpCallHandlers> | undefined {
    return this.soleRequest()?.handlers;
  }

  /** The one request in flight, when it is the only one and brought handlers (see {@link soleHandlers}). */
  soleRequest(): PoolRequest | undefined {
    if (this.count !== 1 || this.answering.size !== 1 || this.abandoned) return undefined;
    return this.answering.values().next().value;
  }
}

/** JSON-RPC "method not found": the answer when nobody may answer a question. */
const METHOD_NOT_FOUND = -32601;

/** The server asked a question nobody on this pool may answer. Carries the JSON-RPC code the server gets. */
export class ServerQuestionRefusedError extends McpPoolError {
  readonly code = METHOD_NOT_FOUND;
}

/** The pool-level answers (options), for questions no caller's handler answers. */
export interface PoolLevelAnswers extends McpCallHandlers {
  listRoots?: () => McpRoot[] | Promise<McpRoot[]>;
}

export interface ClientSpecOptions {
  poolName: string;
  clientInfo: { name: string; version: string };
  capabilities: McpClientCapabilities;
  pool: PoolLevelAnswers;
  listChanged: (list: 'tools' | 'prompts' | 'resources') => void;
  configureClient?: (client: unknown) => void;
}

/** The capabilities a session declares: the configured ones, plus one for each pool-level handler given. */
export function declaredCapabilities(configured: McpClientCapabilities | undefined, pool: PoolLevelAnswers): McpClientCapabilities {
  const capabilities: McpClientCapabilities = { ...configured };
  if (pool.onElicitation && !capabilities.elicitation) capabilities.elicitation = { form: {} };
  if (pool.onSampling && !capabilities.sampling) capabilities.sampling = {};
  if (pool.listRoots && !capabilities.roots) capabilities.roots = {};
  return capabilities;
}

/**
 * The client description of one session, whose `answer` decides who answers a server's question:
 * 1. the caller whose request the question arrived in (the driver names it: `origin`);
 * 2. else a call made on the raw client inside a caller's `runWithMcpHandlers` (its context is current);
 * 3. else, when exactly one pool request is in flight on the session, that request's caller: nobody else
 *    can have caused it;
 * 4. else the pool-level handler, else a refusal. Never a handler of another call: with two calls in
 *    flight, a question that names neither is not given to either.
 */
export function clientSpecFor(o: ClientSpecOptions, inFlight: InFlightRequests): McpClientSpec {
  const answers = new Set<McpServerQuestionMethod>();
  if (o.capabilities.elicitation) answers.add('elicitation/create');
  if (o.capabilities.sampling) answers.add('sampling/createMessage');
  if (o.capabilities.roots) answers.add('roots/list');
  const callerOf = (origin: DriverRequestOptions | undefined): Readonly<McpCallHandlers> | undefined => {
    if (origin) return (origin as PoolRequest).handlers;
    const context = currentMcpHandlers();
    if (context) return context;
    return inFlight.soleHandlers();
  };
  const refuse = (what: string) => new ServerQuestionRefusedError(o.poolName, `no ${what} handler is configured on this pool or on the call that caused it`);
  return {
    clientInfo: o.clientInfo,
    capabilities: o.capabilities,
    answers,
    listChanged: o.listChanged,
    configureClient: o.configureClient,
    async answer<Q extends McpServerQuestionMethod>(
      method: Q,
      params: McpServerQuestions[Q]['params'],
      extra: ServerQuestionExtra,
      origin: DriverRequestOptions | undefined,
    ): Promise<McpServerQuestions[Q]['result']> {
      type R = McpServerQuestions[Q]['result'];
      if (method === 'roots/list') {
        if (!o.pool.listRoots) throw refuse('roots');
        return { roots: await o.pool.listRoots() } as R;
      }
      const caller = callerOf(origin);
      // The request a handler answers for is asked (not one whose question is refused): with no origin, the
      // sole request with handlers in flight is the one callerOf() chose.
      const asked = (origin as PoolRequest | undefined) ?? inFlight.soleRequest();
      if (method === 'elicitation/create') {
        const handler = caller?.onElicitation ?? o.pool.onElicitation;
        if (!handler) throw refuse('elicitation');
        if (asked) asked.askedCaller = true;
        return (await handler(params as McpServerQuestions['elicitation/create']['params'], extra)) as R;
      }
      const handler = caller?.onSampling ?? o.pool.onSampling;
      if (!handler) throw refuse('sampling');
      if (asked) asked.askedCaller = true;
      return (await handler(params as McpServerQuestions['sampling/createMessage']['params'], extra)) as R;
    },
  };
}

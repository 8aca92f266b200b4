import type { Client, ClientOptions, McpSubscription, RequestOptions } from '@modelcontextprotocol/client';
import type { CreateSessionContext, DriverRequestOptions, DriverSession, McpClientSpec, McpProtocolEra, McpProtocolOption } from '../../core/driver';
import type { McpMethod, McpParams, McpResult, McpServerCapabilities, McpServerQuestionMethod } from '../../core/mcp-types';
import { currentOrigin, outsideOrigin, runInOrigin } from '../sdk-client';
import { currentMcpHeaders, withoutRequestContext } from '../../context/request-context';
import { isProtocolHeader } from '../../util/headers';
import type { V2ClientModule } from './load-client';

/** The 2026-07-28 revision: what `protocol: 'modern'` pins. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

/** The methods whose 2026-07-28 result may be `input_required` (the v2 client then runs rounds of handlers and retries). */
const MULTI_ROUND: ReadonlySet<McpMethod> = new Set<McpMethod>(['tools/call', 'prompts/get', 'resources/read']);

/**
 * Builds the v2 `Client` the core's spec describes: its capabilities, the handlers of the server's
 * questions (which answer 2025-era server-to-client requests and, on a 2026-07-28 connection, the
 * `input_required` results the client fulfils and retries: one code path for both eras), and the
 * `list_changed` callbacks (on a modern connection the client opens one `subscriptions/listen` stream for
 * them).
 */
export function buildV2Client(mod: V2ClientModule, spec: McpClientSpec, protocol: McpProtocolOption): Client {
  const onChanged = (list: 'tools' | 'prompts' | 'resources') => ({ autoRefresh: false, debounceMs: 0, onChanged: () => spec.listChanged(list) });
  const options: ClientOptions = {
    capabilities: spec.capabilities as ClientOptions['capabilities'],
    versionNegotiation: { mode: protocol === 'modern' ? { pin: MODERN_PROTOCOL_VERSION } : 'auto' },
    listChanged: { tools: onChanged('tools'), prompts: onChanged('prompts'), resources: onChanged('resources') },
  };
  const client = new mod.Client(spec.clientInfo, options);
  const answer =
    <Q extends McpServerQuestionMethod>(method: Q) =>
    async (req: { id?: unknown; params?: unknown }, ctx: { mcpReq: { id: string | number; signal: AbortSignal }; sessionId?: string }) => {
      try {
        // The origin: the pool request whose async chain this is (the HTTP response of its POST, on both
        // eras; an input_required round runs inside the request that received it).
        return await spec.answer(method, req.params as never, { signal: ctx.mcpReq.signal, requestId: ctx.mcpReq.id, sessionId: ctx.sessionId }, currentOrigin());
      } catch (error) {
        // The core refuses with a JSON-RPC code; the SDK sends a ProtocolError's code (else -32603).
        const code = (error as { code?: unknown })?.code;
        if (typeof code === 'number' && !(error instanceof mod.ProtocolError)) throw new mod.ProtocolError(code, (error as Error).message);
        throw error;
      }
    };
  // The handler result types are the SDK's own; the spec returns the library's MCP shapes, which the SDK
  // validates against its schemas before using them.
  if (spec.answers.has('elicitation/create')) client.setRequestHandler('elicitation/create', answer('elicitation/create') as never);
  if (spec.answers.has('sampling/createMessage')) client.setRequestHandler('sampling/createMessage', answer('sampling/createMessage') as never);
  if (spec.answers.has('roots/list')) client.setRequestHandler('roots/list', answer('roots/list') as never);
  spec.configureClient?.(client);
  return client;
}

/**
 * A caller's headers minus those the transport owns (context headers come from anyone's
 * runWithMcpHeaders(): a forwarded `mcp-session-id` or `mcp-name` must not reach the wire). Returns the same
 * object when there is nothing to drop.
 */
function withoutProtocolHeaders(headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  let kept: Record<string, string> | undefined;
  for (const name of Object.keys(headers)) {
    if (!isProtocolHeader(name.toLowerCase())) continue;
    kept ??= { ...headers };
    delete kept[name];
  }
  return kept ?? headers;
}

type CacheMode = 'use' | 'refresh' | 'bypass';
type Send<M extends McpMethod> = (client: Client, params: McpParams<M>, o: RequestOptions & { cacheMode?: CacheMode }, era: McpProtocolEra) => Promise<McpResult<M>>;

/**
 * A list's first page (no cursor) asks the v2 client for the whole list: it walks the pages itself, keeps
 * its tools index current (output validation, `Mcp-Name`/`Mcp-Param-*` mirroring) and returns page 1's
 * cache hints (`ttlMs`, `cacheScope`) for the pool's cache to honour. `refresh`: the pool decides when to
 * ask; the client must not answer from its own cache then.
 */
const firstPage = <P extends { cursor?: string } | undefined>(p: P): CacheMode => (p?.cursor === undefined ? 'refresh' : 'bypass');

/** Each MCP request on a v2 client. The SDK's result types are its own: they fit the library's shapes. */
const SEND: { [M in McpMethod]: Send<M> } = {
  'tools/call': (c, p, o) => c.callTool(p, o) as never,
  'tools/list': (c, p, o) => c.listTools(p, { ...o, cacheMode: firstPage(p) }) as never,
  'prompts/list': (c, p, o) => c.listPrompts(p, { ...o, cacheMode: firstPage(p) }) as never,
  'prompts/get': (c, p, o) => c.getPrompt(p, o) as never,
  'resources/list': (c, p, o) => c.listResources(p, { ...o, cacheMode: firstPage(p) }) as never,
  'resources/templates/list': (c, p, o) => c.listResourceTemplates(p, { ...o, cacheMode: firstPage(p) }) as never,
  'resources/read': (c, p, o) => c.readResource(p, o) as never,
  'completion/complete': (c, p, o) => c.complete(p as never, o) as never,
  'logging/setLevel': (c, p, o) => c.setLoggingLevel(p.level, o) as never,
  // There is no ping in the 2026-07-28 era: the liveness probe is `server/discover` (a raw ping would get a
  // 404 there, which is not an expired session).
  ping: (c, _p, o, era) => (era === 'modern' ? c.discover(o).then(() => ({})) : c.ping(o)) as never,
};

/** Pool requests that have sent their first wire request (a later one with the same method is a retry leg). */
const sentOnce = new WeakSet<DriverRequestOptions>();

/**
 * The v2 client sends an input_required request's retry legs itself, each a new wire request the pool's
 * rate limiter never saw. Its transport's `send` is wrapped so that a multi-round request's second and later
 * legs, found by the pool request whose async context they run in, first await its `beforeResend`
 * (admission). Whatever else is sent (notifications, responses, other requests) passes at once.
 */
function gateResends(client: Client): void {
  const transport = client.transport as { send: (message: unknown, options?: unknown) => Promise<void> } | undefined;
  if (!transport) return;
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    const origin = currentOrigin();
    const method = (message as { method?: unknown; id?: unknown } | undefined)?.method;
    if (origin?.beforeResend && typeof method === 'string' && (message as { id?: unknown }).id !== undefined && MULTI_ROUND.has(method as McpMethod)) {
      if (sentOnce.has(origin)) await origin.beforeResend();
      else sentOnce.add(origin);
    }
    return send(message, options);
  };
}

/** One v2 client, connected in one era. */
export class V2Session implements DriverSession {
  onDied?: (reason: Error) => void;
  protected closing = false;
  /** Multi-round requests in flight: close() ends them (the v2 client does not, while a handler runs). */
  private readonly rounds = new Set<AbortController>();

  constructor(
    readonly client: Client,
    /** The v2 module the client was built with: its error classes, for the session's own deadline and close. */
    private readonly mod: V2ClientModule,
    readonly era: McpProtocolEra,
    private readonly sessionIdOf: () => string | undefined,
    private readonly closeTransport: () => Promise<void>,
    /** The `subscriptions/listen` stream of a modern session (its list_changed notifications). */
    private readonly subscription?: McpSubscription,
    /** stdio: the child's pid. */
    private readonly pidOf?: () => number | undefined,
  ) {
    client.onclose = () => {
      if (!this.closing) this.onDied?.(new Error('the MCP transport closed'));
    };
    gateResends(client);
    // The stream is how a stateless session hears list_changed: when the server ends it (restarted, or
    // shutting down), the session would go deaf, so it is replaced (the new one listens again).
    void subscription?.closed.then((how) => {
      if (how !== 'local' && !this.closing) this.onDied?.(new Error(`the subscriptions/listen stream ended (${how})`));
    });
  }

  get remoteId(): string | undefined {
    return this.sessionIdOf();
  }

  get pid(): number | undefined {
    return this.pidOf?.();
  }

  get serverCapabilities(): McpServerCapabilities | undefined {
    return this.client.getServerCapabilities() as McpServerCapabilities | undefined;
  }

  request<M extends McpMethod>(method: M, params: McpParams<M>, options: DriverRequestOptions): Promise<McpResult<M>> {
    const o: RequestOptions = { timeout: options.timeoutMs };
    if (options.signal) o.signal = options.signal;
    if (options.onprogress) o.onprogress = options.onprogress;
    if (options.resetTimeoutOnProgress) o.resetTimeoutOnProgress = true;
    // Per-request headers ride on the v2 client's own RequestOptions.headers: on this request's POST only
    // (and on every input_required retry of it), never on another.
    if (options.headers) o.headers = withoutProtocolHeaders(options.headers);
    const send = SEND[method] as Send<M>;
    if (this.era === 'modern' && MULTI_ROUND.has(method)) return this.bounded(options, o, (bounded) => this.run(options, () => send(this.client, params, bounded, this.era)));
    return this.run(options, () => send(this.client, params, o, this.era));
  }

  private run<T>(options: DriverRequestOptions, fn: () => Promise<T>): Promise<T> {
    // The origin is found again by the question handlers (input_required rounds, 2025 server requests) and
    // by the driver's fetch, which must not add a caller's context headers to a pool request: only when
    // something needs it (an AsyncLocalStorage run per call costs a context switch).
    if (options.headers === undefined && !options.identifiesCaller && !options.beforeResend && currentMcpHeaders() === undefined) return fn();
    return runInOrigin(options, fn);
  }

  /**
   * A 2026-07-28 request that may go `input_required`: the v2 client's `timeout` bounds each wire leg only,
   * the caller's handler runs between legs with no timer, and an abort reaches the handler but the call
   * waits for it to return; close() does not end it either. So the request's deadline (re-armed by
   * progress when asked), the caller's abort and the session's close bound the whole call here: the
   * handler's signal aborts and the call settles at once, with the error the pool classifies.
   */
  private bounded<T>(options: DriverRequestOptions, o: RequestOptions, fn: (o: RequestOptions) => Promise<T>): Promise<T> {
    const mod = this.mod;
    const ac = new AbortController();
    const outer = options.signal;
    const onOuter = () => ac.abort(outer!.reason);
    if (outer?.aborted) ac.abort(outer.reason);
    else outer?.addEventListener('abort', onOuter, { once: true });
    const ms = options.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (!(ms > 0)) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => ac.abort(new mod.SdkError(mod.SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: ms })), ms);
    };
    arm();
    const bounded: RequestOptions = { ...o, signal: ac.signal };
    if (options.resetTimeoutOnProgress && o.onprogress) {
      const onprogress = o.onprogress;
      bounded.onprogress = (p) => (arm(), onprogress(p));
    }
    this.rounds.add(ac);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(ac.signal.reason);
      if (ac.signal.aborted) onAbort();
      else ac.signal.addEventListener('abort', onAbort, { once: true });
      fn(bounded)
        .then(resolve, reject)
        .finally(() => {
          if (timer) clearTimeout(timer);
          outer?.removeEventListener('abort', onOuter);
          ac.signal.removeEventListener('abort', onAbort);
          this.rounds.delete(ac);
        });
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const ac of this.rounds) ac.abort(new this.mod.SdkError(this.mod.SdkErrorCode.ConnectionClosed, 'Connection closed'));
    await this.subscription?.close().catch(() => undefined);
    await this.closeTransport().catch(() => undefined);
    await this.client.close().catch(() => undefined);
  }
}

/**
 * Opens the `subscriptions/listen` stream for the lists whose `list_changed` the server advertises (what
 * the v2 client's probe path opens by itself). Undefined when it advertises none.
 */
export async function openListChanged(client: Client, ctx: CreateSessionContext): Promise<McpSubscription | undefined> {
  const caps = client.getServerCapabilities();
  const filter = {
    ...(caps?.tools?.listChanged ? { toolsListChanged: true } : {}),
    ...(caps?.prompts?.listChanged ? { promptsListChanged: true } : {}),
    ...(caps?.resources?.listChanged ? { resourcesListChanged: true } : {}),
  };
  if (Object.keys(filter).length === 0) return undefined;
  return withoutRequestContext(() => outsideOrigin(() => client.listen(filter, { timeout: ctx.timeoutMs, signal: ctx.signal })));
}

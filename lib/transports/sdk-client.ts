import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { DriverRequestOptions, DriverSession, McpClientSpec } from '../core/driver';
import type { McpMethod, McpParams, McpResult, McpServerCapabilities, McpServerQuestionMethod } from '../core/mcp-types';

/**
 * The pool's request whose async chain the SDK is in. The SDK (1.x) reads a POST's SSE response, and
 * calls fetch, inside the async context of the request that sent it: so a server question found there
 * belongs to that request, and the HTTP driver's fetch finds that request's headers here.
 */
const origin = new AsyncLocalStorage<DriverRequestOptions>();

/** The pool request the current async chain belongs to, if any. */
export function currentOrigin(): DriverRequestOptions | undefined {
  return origin.getStore();
}

/** Runs `fn` as part of the pool request `options` (its fetches and server questions find it again). */
export function runInOrigin<T>(options: DriverRequestOptions, fn: () => T): T {
  return origin.run(options, fn);
}

/** Runs `fn` outside any pool request (closes, DELETEs: they belong to no caller). */
export function outsideOrigin<T>(fn: () => T): T {
  return origin.exit(fn);
}

/** Builds the SDK 1.x `Client` the core's spec describes, with its server-question handlers installed. */
export function buildSdkClient(spec: McpClientSpec): Client {
  const onChanged = (list: 'tools' | 'prompts' | 'resources') => ({ autoRefresh: false, debounceMs: 0, onChanged: () => spec.listChanged(list) });
  const client = new Client(spec.clientInfo, {
    capabilities: spec.capabilities,
    listChanged: { tools: onChanged('tools'), prompts: onChanged('prompts'), resources: onChanged('resources') },
  });
  const answer =
    <Q extends McpServerQuestionMethod>(method: Q) =>
    async (req: { params?: unknown }, extra: { signal: AbortSignal; requestId: string | number; sessionId?: string }) => {
      try {
        return await spec.answer(method, req.params as never, { signal: extra.signal, requestId: extra.requestId, sessionId: extra.sessionId }, origin.getStore());
      } catch (error) {
        // The core refuses with a JSON-RPC code; the SDK sends only an McpError's code (else -32603).
        const code = (error as { code?: unknown })?.code;
        if (typeof code === 'number' && !(error instanceof McpError)) throw new McpError(code, (error as Error).message);
        throw error;
      }
    };
  // The SDK's handler result types are its own; the spec returns the library's MCP shapes, which the SDK
  // validates against its schemas before sending.
  if (spec.answers.has('elicitation/create')) client.setRequestHandler(ElicitRequestSchema, answer('elicitation/create') as never);
  if (spec.answers.has('sampling/createMessage')) client.setRequestHandler(CreateMessageRequestSchema, answer('sampling/createMessage') as never);
  if (spec.answers.has('roots/list')) client.setRequestHandler(ListRootsRequestSchema, answer('roots/list') as never);
  spec.configureClient?.(client);
  return client;
}

type Send<M extends McpMethod> = (client: Client, params: McpParams<M>, o: RequestOptions) => Promise<McpResult<M>>;

/**
 * Each MCP request on an SDK 1.x client. The table is typed against the library's result shapes, so the
 * compiler checks that every SDK result fits them (no casts).
 */
const SEND: { [M in McpMethod]: Send<M> } = {
  'tools/call': (c, p, o) => c.callTool(p, undefined, o) as ReturnType<Send<'tools/call'>>,
  'tools/list': (c, p, o) => c.listTools(p, o),
  'prompts/list': (c, p, o) => c.listPrompts(p, o),
  'prompts/get': (c, p, o) => c.getPrompt(p, o),
  'resources/list': (c, p, o) => c.listResources(p, o),
  'resources/templates/list': (c, p, o) => c.listResourceTemplates(p, o),
  'resources/read': (c, p, o) => c.readResource(p, o),
  'completion/complete': (c, p, o) => c.complete(p, o),
  'logging/setLevel': (c, p, o) => c.setLoggingLevel(p.level, o),
  ping: (c, _p, o) => c.ping(o),
};

/** What both built-in SDK 1.x sessions share: the request table and the capabilities. */
export abstract class SdkSession implements DriverSession {
  onDied?: (reason: Error) => void;
  /** SDK 1.x speaks the 2025 era only. */
  readonly era = 'legacy' as const;
  abstract readonly remoteId: string | undefined;

  constructor(readonly client: Client) {}

  get serverCapabilities(): McpServerCapabilities | undefined {
    return this.client.getServerCapabilities();
  }

  request<M extends McpMethod>(method: M, params: McpParams<M>, options: DriverRequestOptions): Promise<McpResult<M>> {
    const o: RequestOptions = { timeout: options.timeoutMs };
    if (options.signal) o.signal = options.signal;
    if (options.onprogress) o.onprogress = options.onprogress;
    if (options.resetTimeoutOnProgress) o.resetTimeoutOnProgress = true;
    const send = SEND[method] as Send<M>;
    // An AsyncLocalStorage run costs a context switch per call: only when something must be found again
    // (headers for fetch, or a caller who answers the server's questions).
    if (options.headers === undefined && !options.identifiesCaller) return send(this.client, params, o);
    return origin.run(options, () => send(this.client, params, o));
  }

  abstract close(): Promise<void>;
}

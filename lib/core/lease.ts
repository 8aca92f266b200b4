import { collectPages } from './pages';
import type { SessionRecord } from './session-record';
import type { McpCallHandlers } from '../context/request-context';
import type {
  McpCallToolResult,
  McpCompleteParams,
  McpCompleteResult,
  McpGetPromptResult,
  McpListPromptsResult,
  McpListResourceTemplatesResult,
  McpListResourcesResult,
  McpListToolsResult,
  McpLoggingLevel,
  McpMethod,
  McpParams,
  McpProgress,
  McpReadResourceResult,
  McpResult,
  McpTool,
} from './mcp-types';

/** Options of one MCP request made through the pool. */
export interface CallOptions {
  /** Cancels the request (the server is sent `notifications/cancelled`). */
  signal?: AbortSignal;
  /** Deadline of this request; default the pool's `callTimeoutMs`. */
  timeoutMs?: number;
  /** HTTP headers added to this request only (not to the session). */
  headers?: Record<string, string>;
  /** Progress notifications of this request. */
  onprogress?: (progress: McpProgress) => void;
  /** Whether a progress notification restarts the deadline. */
  resetTimeoutOnProgress?: boolean;
  /** Answers `elicitation/create` requests the server sends while this call runs. */
  onElicitation?: McpCallHandlers['onElicitation'];
  /** Answers `sampling/createMessage` requests the server sends while this call runs. */
  onSampling?: McpCallHandlers['onSampling'];
}

/** What a lease needs from its pool; the pool implements it privately. */
export interface LeaseHost {
  invoke<M extends McpMethod>(lease: McpLease, method: M, params: McpParams<M>, opts: CallOptions | undefined): Promise<McpResult<M>>;
  release(lease: McpLease): void;
  /** The pool's name (in errors). */
  readonly poolName: string;
}

/**
 * One borrowed slot of one pooled session. Exposes the MCP client operations; every call goes through
 * the pool so that timeouts, cancellation, per-request headers and failure handling apply. Release it
 * exactly once (`release()`, `await using`, or use `pool.session(fn)`, which cannot leak).
 */
export class McpLease implements AsyncDisposable {
  private released = false;
  /** @internal Set by the pool (leak detection). */
  onRelease: (() => void) | undefined;
  /** @internal The tenant this lease counts against (tenantLimit). */
  tenant: string | undefined;
  /** @internal The rate limiter admitted this lease's next request before the slot was taken. */
  prepaid = false;
  /** @internal The pool's own lease (warm-up hook, health probe): its requests are not the callers' calls in the metrics. */
  internal = false;

  /** @internal Created by the pool. */
  constructor(
    private readonly host: LeaseHost,
    /** @internal */
    readonly record: SessionRecord,
    /** Headers added to every call made through this lease. */
    readonly headers: Readonly<Record<string, string>> | undefined,
    /** When the lease was handed out (ms since epoch). */
    readonly borrowedAt: number,
  ) {}

  /**
   * The driver's own client object, for anything the lease does not wrap (the SDK `Client` for the built-in
   * drivers: narrow it with `as Client`). Calls made on it bypass the pool's handling, except that the
   * built-in HTTP driver still adds the caller's context headers.
   */
  get client(): unknown {
    return this.record.session.client;
  }

  /** The server's session id (HTTP), if any. */
  get sessionId(): string | undefined {
    return this.record.session.remoteId;
  }

  /** Whether this lease was released. */
  get isReleased(): boolean {
    return this.released;
  }

  callTool(name: string, args?: Record<string, unknown>, opts?: CallOptions): Promise<McpCallToolResult> {
    return this.host.invoke(this, 'tools/call', args === undefined ? { name } : { name, arguments: args }, opts);
  }

  /** One page of `tools/list`, straight from the server (the pool's `listTools()` is the cached one). */
  listTools(params?: { cursor?: string }, opts?: CallOptions): Promise<McpListToolsResult> {
    return this.host.invoke(this, 'tools/list', params, opts);
  }

  /** Every page of `tools/list`, following `nextCursor` (bounded: see `collectPages`). */
  listAllTools(opts?: CallOptions, onFirstPage?: (ttlMs: unknown) => void): Promise<McpTool[]> {
    return collectPages(
      this.host.poolName,
      'tools/list',
      (cursor) => this.listTools(cursor === undefined ? undefined : { cursor }, opts),
      (p) => p.tools,
      onFirstPage && ((p) => onFirstPage(p.ttlMs)),
    );
  }

  ping(opts?: CallOptions): Promise<void> {
    return this.host.invoke(this, 'ping', undefined, opts).then(() => undefined);
  }

  readResource(uri: string, opts?: CallOptions): Promise<McpReadResourceResult> {
    return this.host.invoke(this, 'resources/read', { uri }, opts);
  }

  listResources(params?: { cursor?: string }, opts?: CallOptions): Promise<McpListResourcesResult> {
    return this.host.invoke(this, 'resources/list', params, opts);
  }

  listResourceTemplates(params?: { cursor?: string }, opts?: CallOptions): Promise<McpListResourceTemplatesResult> {
    return this.host.invoke(this, 'resources/templates/list', params, opts);
  }

  listPrompts(params?: { cursor?: string }, opts?: CallOptions): Promise<McpListPromptsResult> {
    return this.host.invoke(this, 'prompts/list', params, opts);
  }

  getPrompt(name: string, args?: Record<string, string>, opts?: CallOptions): Promise<McpGetPromptResult> {
    return this.host.invoke(this, 'prompts/get', args === undefined ? { name } : { name, arguments: args }, opts);
  }

  complete(params: McpCompleteParams, opts?: CallOptions): Promise<McpCompleteResult> {
    return this.host.invoke(this, 'completion/complete', params, opts);
  }

  setLoggingLevel(level: McpLoggingLevel, opts?: CallOptions): Promise<void> {
    return this.host.invoke(this, 'logging/setLevel', { level }, opts).then(() => undefined);
  }

  /** Returns the slot to the pool. Idempotent: only the first call counts. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.host.release(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}


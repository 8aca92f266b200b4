import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  CompleteRequest,
  GetPromptResult,
  ListPromptsResult,
  ListResourceTemplatesResult,
  ListResourcesResult,
  ListToolsResult,
  LoggingLevel,
  ReadResourceResult,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { SessionRecord } from './session-record';
import type { McpCallHandlers } from '../context/request-context';

/** Options of one MCP request made through the pool. */
export interface CallOptions {
  /** Cancels the request (the server is sent `notifications/cancelled`). */
  signal?: AbortSignal;
  /** Deadline of this request; default the pool's `callTimeoutMs`. */
  timeoutMs?: number;
  /** HTTP headers added to this request only (not to the session). */
  headers?: Record<string, string>;
  /** Progress notifications of this request. */
  onprogress?: RequestOptions['onprogress'];
  /** Whether a progress notification restarts the deadline. */
  resetTimeoutOnProgress?: boolean;
  /** Answers `elicitation/create` requests the server sends while this call runs. */
  onElicitation?: McpCallHandlers['onElicitation'];
  /** Answers `sampling/createMessage` requests the server sends while this call runs. */
  onSampling?: McpCallHandlers['onSampling'];
}

/** What a lease needs from its pool; the pool implements it privately. */
export interface LeaseHost {
  invoke<T>(
    lease: McpLease,
    method: string,
    opts: CallOptions | undefined,
    call: (o: RequestOptions) => Promise<T>,
    toolName?: string,
  ): Promise<T>;
  release(lease: McpLease): void;
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

  /** The underlying SDK client, for anything the lease does not wrap. Calls made on it bypass the pool's handling. */
  get client(): Client {
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

  callTool(name: string, args?: Record<string, unknown>, opts?: CallOptions): Promise<CallToolResult> {
    return this.host.invoke(
      this,
      'tools/call',
      opts,
      (o) => this.client.callTool({ name, arguments: args }, undefined, o) as Promise<CallToolResult>,
      name,
    );
  }

  /** One page of `tools/list`, straight from the server (the pool's `listTools()` is the cached one). */
  listTools(params?: { cursor?: string }, opts?: CallOptions): Promise<ListToolsResult> {
    return this.host.invoke(this, 'tools/list', opts, (o) => this.client.listTools(params, o));
  }

  /** Every page of `tools/list`, following `nextCursor`. */
  async listAllTools(opts?: CallOptions): Promise<Tool[]> {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listTools(cursor ? { cursor } : undefined, opts);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  }

  ping(opts?: CallOptions): Promise<void> {
    return this.host.invoke(this, 'ping', opts, async (o) => {
      await this.client.ping(o);
    });
  }

  readResource(uri: string, opts?: CallOptions): Promise<ReadResourceResult> {
    return this.host.invoke(this, 'resources/read', opts, (o) => this.client.readResource({ uri }, o));
  }

  listResources(params?: { cursor?: string }, opts?: CallOptions): Promise<ListResourcesResult> {
    return this.host.invoke(this, 'resources/list', opts, (o) => this.client.listResources(params, o));
  }

  listResourceTemplates(params?: { cursor?: string }, opts?: CallOptions): Promise<ListResourceTemplatesResult> {
    return this.host.invoke(this, 'resources/templates/list', opts, (o) => this.client.listResourceTemplates(params, o));
  }

  listPrompts(params?: { cursor?: string }, opts?: CallOptions): Promise<ListPromptsResult> {
    return this.host.invoke(this, 'prompts/list', opts, (o) => this.client.listPrompts(params, o));
  }

  getPrompt(name: string, args?: Record<string, string>, opts?: CallOptions): Promise<GetPromptResult> {
    return this.host.invoke(this, 'prompts/get', opts, (o) => this.client.getPrompt({ name, arguments: args }, o));
  }

  complete(params: CompleteRequest['params'], opts?: CallOptions) {
    return this.host.invoke(this, 'completion/complete', opts, (o) => this.client.complete(params, o));
  }

  setLoggingLevel(level: LoggingLevel, opts?: CallOptions): Promise<void> {
    return this.host.invoke(this, 'logging/setLevel', opts, async (o) => {
      await this.client.setLoggingLevel(level, o);
    });
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

import { CallTimeoutError, OperationAbortedError } from './errors';
import type { CallOptions, McpLease } from './lease';
import { ListCache, type ListCacheCounters } from './list-cache';
import type { McpPrompt, McpResource, McpTool } from './mcp-types';
import { collectPages } from './pages';

/** How the catalog walks a list: on a lease the pool lends to itself, outside every caller's context. */
export type PoolWalk = <T>(method: string, walk: (lease: McpLease, options: CallOptions) => Promise<T>) => Promise<T>;

export interface ServerCatalogOptions {
  poolName: string;
  ttlMs: number;
  counters: ListCacheCounters;
  /** Runs one shared walk for the pool (see McpPool: no caller's signal, deadline or headers). */
  walk: PoolWalk;
  /** A fresh tools list differs (names, schemas, annotations) from the previous one. */
  toolsChanged: (tools: McpTool[], previous: McpTool[]) => void;
}

/** A caller's own limits on a shared fetch: it may give up on it, the fetch goes on for the others. */
type CallerLimits = Pick<CallOptions, 'signal' | 'timeoutMs'>;

/**
 * What the server offers (tools, prompts, resources), cached with a TTL. A miss starts one walk over every
 * page that belongs to no caller: concurrent callers share it, each racing only its own signal and
 * deadline, so the first caller's abort, deadline or headers decide nothing for the others.
 */
export class ServerCatalog {
  private readonly tools: ListCache<McpTool[]>;
  private readonly prompts: ListCache<McpPrompt[]>;
  private readonly resources: ListCache<McpResource[]>;

  constructor(private readonly o: ServerCatalogOptions) {
    this.tools = new ListCache(o.ttlMs, o.counters, (tools, previous) => {
      if (previous && toolsSignature(tools) !== toolsSignature(previous)) o.toolsChanged(tools, previous);
    });
    this.prompts = new ListCache(o.ttlMs, o.counters);
    this.resources = new ListCache(o.ttlMs, o.counters);
  }

  listTools(caller?: CallerLimits): Promise<McpTool[]> {
    return this.shared(this.tools, 'tools/list', (l, opts, hint) => l.listAllTools(opts, hint), caller);
  }

  listPrompts(caller?: CallerLimits): Promise<McpPrompt[]> {
    return this.shared(
      this.prompts,
      'prompts/list',
      (l, opts, hint) =>
        collectPages(this.o.poolName, 'prompts/list', (cursor) => l.listPrompts(cursor === undefined ? undefined : { cursor }, opts), (p) => p.prompts, (p) => hint(p.ttlMs)),
      caller,
    );
  }

  listResources(caller?: CallerLimits): Promise<McpResource[]> {
    return this.shared(
      this.resources,
      'resources/list',
      (l, opts, hint) =>
        collectPages(this.o.poolName, 'resources/list', (cursor) => l.listResources(cursor === undefined ? undefined : { cursor }, opts), (p) => p.resources, (p) => hint(p.ttlMs)),
      caller,
    );
  }

  /** Drops every cached list (a session was rebuilt, or the user asked). */
  invalidate(): void {
    this.tools.invalidate();
    this.prompts.invalidate();
    this.resources.invalidate();
  }

  /** The server said one list changed. */
  listChanged(list: 'tools' | 'prompts' | 'resources'): void {
    (list === 'tools' ? this.tools : list === 'prompts' ? this.prompts : this.resources).invalidate();
  }

  /** The tools cache's generation; pass it to {@link offerTools} with a list fetched from then on. */
  get toolsGeneration(): number {
    return this.tools.currentGeneration;
  }

  /** A list fetched elsewhere (a new session lists its tools anyway) fills the cache if still current. */
  offerTools(tools: McpTool[], generation: number, hintTtlMs?: unknown): void {
    this.tools.offer(tools, generation, hintTtlMs);
  }

  /** Whether a call of this tool may run twice: the cached annotations say read-only or idempotent. */
  isToolSafeToRepeat(name: string): boolean {
    const tool = this.tools.peek()?.find((t) => t.name === name);
    return tool?.annotations?.readOnlyHint === true || tool?.annotations?.idempotentHint === true;
  }

  private shared<T>(
    cache: ListCache<T>,
    method: string,
    walk: (lease: McpLease, options: CallOptions, hint: (ttlMs: unknown) => void) => Promise<T>,
    caller: CallerLimits | undefined,
  ): Promise<T> {
    if (caller?.signal?.aborted) return Promise.reject(new OperationAbortedError(this.o.poolName, method, caller.signal.reason));
    return raceCaller(cache.get((hint) => this.o.walk(method, (l, opts) => walk(l, opts, hint))), this.o.poolName, method, caller);
  }
}

/** `shared`, or the caller's own abort or deadline if one comes first; the shared promise runs on. */
function raceCaller<T>(shared: Promise<T>, poolName: string, method: string, caller: CallerLimits | undefined): Promise<T> {
  const signal = caller?.signal;
  const timeoutMs = caller?.timeoutMs;
  if (!signal && timeoutMs === undefined) return shared;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      reject(new OperationAbortedError(poolName, method, signal!.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        done();
        reject(new CallTimeoutError(poolName, method, timeoutMs));
      }, timeoutMs);
    }
    shared.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/** What identifies a tool list for change detection: names and schemas, order-independent. */
function toolsSignature(tools: McpTool[]): string {
  return JSON.stringify(
    tools
      .map((t) => [t.name, t.inputSchema, t.outputSchema ?? null, t.annotations ?? null])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  );
}

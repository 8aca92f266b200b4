/**
 * A TTL cache of one list (tools, prompts or resources) with single-flight fetches.
 *
 * - Concurrent misses share one fetch.
 * - `invalidate()` bumps a generation: a fetch that started before it still answers its own callers, but
 *   its result is not stored, and callers arriving after the invalidation start a fresh fetch.
 * - TTL 0 disables caching (every call fetches), still sharing concurrent fetches.
 * - A server's cache hint (`ttlMs`, protocol 2026-07-28), passed by the fetch to its `hint` callback, wins
 *   over the TTL for that value (capped at {@link MAX_HINT_TTL_MS}; a hint of 0 means "do not cache"),
 *   unless the pool's TTL is 0: then nothing is cached.
 */

/** The longest a server's `ttlMs` hint keeps a list (24 h, as the v2 client caps it). */
export const MAX_HINT_TTL_MS = 86_400_000;

export interface ListCacheCounters {
  cacheHits: number;
  cacheMisses: number;
  cacheRefreshCount: number;
  cacheWaiters: number;
}

export class ListCache<T> {
  private value: T | undefined;
  /** The last value fetched, kept across invalidations (for annotations and change detection). */
  private lastKnown: T | undefined;
  private expiresAt = 0;
  private generation = 0;
  private inflight: { generation: number; promise: Promise<T> } | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly counters: ListCacheCounters,
    private readonly onStored?: (value: T, previous: T | undefined) => void,
  ) {}

  /** The cached value if fresh, else the result of `fetch` (shared with concurrent callers). */
  get(fetch: (hint: (ttlMs: unknown) => void) => Promise<T>): Promise<T> {
    if (this.value !== undefined && Date.now() < this.expiresAt) {
      this.counters.cacheHits++;
      return Promise.resolve(this.value);
    }
    this.counters.cacheMisses++;
    if (this.inflight && this.inflight.generation === this.generation) {
      this.counters.cacheWaiters++;
      return this.inflight.promise;
    }
    const generation = this.generation;
    let hinted: number | undefined;
    const hint = (ttlMs: unknown) => {
      if (typeof ttlMs === 'number' && Number.isFinite(ttlMs) && ttlMs >= 0) hinted = Math.min(ttlMs, MAX_HINT_TTL_MS);
    };
    const promise = fetch(hint).then(
      (value) => {
        if (this.inflight?.promise === promise) this.inflight = undefined;
        if (generation === this.generation) {
          const previous = this.lastKnown;
          this.lastKnown = value;
          const ttl = this.ttlMs > 0 ? (hinted ?? this.ttlMs) : 0;
          if (ttl > 0) {
            this.value = value;
            this.expiresAt = Date.now() + ttl;
          } else {
            this.value = undefined;
          }
          this.counters.cacheRefreshCount++;
          this.onStored?.(value, previous);
        }
        return value;
      },
      (error: unknown) => {
        if (this.inflight?.promise === promise) this.inflight = undefined;
        throw error;
      },
    );
    this.inflight = { generation, promise };
    return promise;
  }

  /** The current generation; pass it to {@link offer} with a value fetched from then on. */
  get currentGeneration(): number {
    return this.generation;
  }

  /**
   * Stores a value fetched elsewhere (a new session lists its tools anyway) unless an invalidation came
   * after `generation` or a fresh value is already there.
   */
  offer(value: T, generation: number, hintTtlMs?: unknown): void {
    if (generation !== this.generation || this.ttlMs === 0) return;
    if (this.value !== undefined && Date.now() < this.expiresAt) return;
    const hinted = typeof hintTtlMs === 'number' && Number.isFinite(hintTtlMs) && hintTtlMs >= 0 ? Math.min(hintTtlMs, MAX_HINT_TTL_MS) : undefined;
    const ttl = hinted ?? this.ttlMs;
    const previous = this.lastKnown;
    this.lastKnown = value;
    if (ttl === 0) {
      this.onStored?.(value, previous);
      return;
    }
    this.value = value;
    this.expiresAt = Date.now() + ttl;
    this.onStored?.(value, previous);
  }

  /** The stored value, fresh or not (used to read tool annotations without a round trip). */
  peek(): T | undefined {
    return this.lastKnown;
  }

  invalidate(): void {
    this.generation++;
    this.value = undefined;
    this.expiresAt = 0;
  }
}

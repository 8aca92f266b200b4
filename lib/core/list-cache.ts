/**
 * A TTL cache of one list (tools, prompts or resources) with single-flight fetches.
 *
 * - Concurrent misses share one fetch.
 * - `invalidate()` bumps a generation: a fetch that started before it still answers its own callers, but
 *   its result is not stored, and callers arriving after the invalidation start a fresh fetch.
 * - TTL 0 disables caching (every call fetches), still sharing concurrent fetches.
 */
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
  get(fetch: () => Promise<T>): Promise<T> {
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
    const promise = fetch().then(
      (value) => {
        if (this.inflight?.promise === promise) this.inflight = undefined;
        if (generation === this.generation) {
          const previous = this.lastKnown;
          this.lastKnown = value;
          if (this.ttlMs > 0) {
            this.value = value;
            this.expiresAt = Date.now() + this.ttlMs;
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
  offer(value: T, generation: number): void {
    if (generation !== this.generation || this.ttlMs === 0) return;
    if (this.value !== undefined && Date.now() < this.expiresAt) return;
    const previous = this.lastKnown;
    this.lastKnown = this.value = value;
    this.expiresAt = Date.now() + this.ttlMs;
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

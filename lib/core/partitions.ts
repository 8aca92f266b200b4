import { createHmac, randomBytes } from 'node:crypto';

/**
 * The key of partition hashes, new in every process: a bare hash of a token can be reversed with a
 * dictionary of likely tokens; an HMAC under a key that never leaves the process cannot.
 */
const PARTITION_KEY = randomBytes(32);

/**
 * How a pool tells identities apart: a list of header names (their values, together, are the identity), or
 * a function of the request's headers that returns an identity string (undefined: no identity).
 */
export type PartitionBy = readonly string[] | ((headers: Readonly<Record<string, string>>) => string | undefined);

/**
 * The partition key of a request: an HMAC of its identity under a per-process key, never the identity itself, so that tokens do not
 * sit in keys, metrics or logs. Undefined when the request carries no identity (it then uses the shared
 * sessions).
 */
export function partitionKeyOf(by: PartitionBy, headers: Readonly<Record<string, string>> | undefined): string | undefined {
  let identity: string | undefined;
  if (typeof by === 'function') {
    identity = by(headers ?? {});
  } else if (headers) {
    let parts: string[] | undefined;
    for (const name of by) {
      const value = headers[name];
      if (value !== undefined) (parts ??= []).push(`${name}\u0000${value}`);
    }
    identity = parts?.join('\u0001');
  }
  if (identity === undefined || identity === '') return undefined;
  return createHmac('sha256', PARTITION_KEY).update(identity).digest('hex').slice(0, 16);
}

/** The identity headers of a request (the ones a partition's sessions must carry from initialize on). */
export function identityHeadersOf(by: PartitionBy, headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof by === 'function' || !headers) return out;
  for (const name of by) if (headers[name] !== undefined) out[name] = headers[name]!;
  return out;
}

/** A partition, as the table needs it. */
export interface PartitionPool {
  /** Leases out, callers waiting or creations under way: a partition with none is idle and may be evicted. */
  readonly busy: boolean;
}

/**
 * The partitions of one pool: at most `maxPartitions`, least recently used first out. Only an idle
 * partition is evicted (its sessions are closed); when every partition is busy, a new identity is refused.
 */
export class PartitionTable<P extends PartitionPool> {
  /** Map order is recency order: a partition is re-inserted on use. */
  private readonly byKey = new Map<string, { pool: P; lastUsedAt: number }>();

  constructor(private readonly maxPartitions: number) {}

  get size(): number {
    return this.byKey.size;
  }

  values(): P[] {
    return [...this.byKey.values()].map((e) => e.pool);
  }

  /**
   * The partition for `key`, created with `create` if absent. Returns undefined when the table is full of
   * busy partitions. `evicted` receives partitions pushed out to make room (the caller closes their sessions).
   */
  get(key: string, create: () => P, evicted: (pool: P) => void): P | undefined {
    const now = Date.now();
    const hit = this.byKey.get(key);
    if (hit) {
      this.byKey.delete(key);
      hit.lastUsedAt = now;
      this.byKey.set(key, hit);
      return hit.pool;
    }
    if (this.byKey.size >= this.maxPartitions) {
      const victim = [...this.byKey.entries()].find(([, e]) => !e.pool.busy);
      if (!victim) return undefined;
      this.byKey.delete(victim[0]);
      evicted(victim[1].pool);
    }
    const pool = create();
    this.byKey.set(key, { pool, lastUsedAt: now });
    return pool;
  }

  /** Removes partitions idle (not busy, unused) for `idleMs`; returns them (the caller closes their sessions). */
  sweep(idleMs: number, now: number): P[] {
    const out: P[] = [];
    for (const [key, e] of this.byKey) {
      if (!e.pool.busy && now - e.lastUsedAt >= idleMs) {
        this.byKey.delete(key);
        out.push(e.pool);
      }
    }
    return out;
  }

  /** Empties the table; returns every partition. */
  clear(): P[] {
    const out = this.values();
    this.byKey.clear();
    return out;
  }
}

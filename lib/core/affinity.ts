import type { SessionRecord } from './session-record';

/**
 * Affinity: which session a key (a conversation, a user) last used, so that its next call can go back to
 * the same session while it is free. Bounded: the least recently bound key is dropped first. A binding to
 * a session that is gone is dropped when looked up.
 */
export class AffinityMap {
  private readonly map = new Map<string, SessionRecord>();

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The live session bound to `key`, if any. */
  get(key: string): SessionRecord | undefined {
    const rec = this.map.get(key);
    if (rec && rec.state === 'dead') {
      this.map.delete(key);
      return undefined;
    }
    return rec;
  }

  bind(key: string, rec: SessionRecord): void {
    this.map.delete(key);
    this.map.set(key, rec);
    if (this.map.size > this.maxKeys) this.map.delete(this.map.keys().next().value!);
  }

  /** Drops every binding to `rec` (it closed). */
  dropSession(rec: SessionRecord): void {
    for (const [key, r] of this.map) if (r === rec) this.map.delete(key);
  }
}

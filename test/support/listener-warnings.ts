import { getEventListeners, getMaxListeners } from 'node:events';

/**
 * Watches every `addEventListener` on an EventTarget (AbortSignals included) and records the ones Node would
 * answer with a MaxListenersExceededWarning: more listeners of one type than the target's limit. Node prints
 * that warning on the real `process`, which Jest's sandboxed `process.on('warning')` never sees; this sees
 * the condition itself. Call `stop()` to restore and get what was seen.
 */
export function watchListenerWarnings(): { stop(): string[] } {
  const seen: string[] = [];
  const proto = EventTarget.prototype;
  const original = proto.addEventListener;
  proto.addEventListener = function (this: EventTarget, type: string, ...rest: unknown[]) {
    (original as (...a: unknown[]) => void).call(this, type, ...rest);
    const max = maxListeners(this);
    const count = getEventListeners(this, type).length;
    if (max > 0 && count > max) seen.push(`${count} ${type} listeners on one ${this.constructor.name} (limit ${max})`);
  } as typeof proto.addEventListener;
  return {
    stop() {
      proto.addEventListener = original;
      return seen;
    },
  };
}

/** The target's listener limit; 0 when unlimited (Node 20's getMaxListeners throws for a limit set to 0). */
function maxListeners(target: EventTarget): number {
  try {
    return getMaxListeners(target);
  } catch {
    return 0;
  }
}

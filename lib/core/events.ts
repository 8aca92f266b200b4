import type { McpTool as Tool } from './mcp-types';
import type { CircuitState } from './circuit-breaker';

/** Why a session left the pool. */
/**
 * Why a session ended. `rebalance`: an identity partition needed a session while the pool was at
 * `maxSessions` (a cap over every partition together), so an idle session of another one made room.
 */
export type SessionEndReason = 'died' | 'lost' | 'hung' | 'health' | 'lifetime' | 'idle' | 'resize' | 'rebalance' | 'shutdown';

/** The pool's events and their payloads. Payloads never hold tokens or header values. */
export interface McpPoolEvents {
  sessionCreated: { pool: string; sessionId: number; durationMs: number };
  sessionCreateFailed: { pool: string; error: unknown; consecutiveFailures: number };
  sessionDestroyed: { pool: string; sessionId: number; reason: SessionEndReason; error?: unknown };
  borrow: { pool: string; sessionId: number; waitMs: number };
  return: { pool: string; sessionId: number; heldMs: number };
  healthCheckFailed: { pool: string; sessionId: number; error: unknown };
  circuitStateChanged: { pool: string; from: CircuitState; to: CircuitState; error?: unknown };
  toolsChanged: { pool: string; tools: Tool[]; previous: Tool[] };
  leaseLeakSuspected: { pool: string; sessionId: number; heldMs: number; stack: string };
  stateChanged: { pool: string; from: string; to: string };
  callCompleted: { pool: string; sessionId: number; method: string; durationMs: number; error?: unknown };
}

export type McpPoolEventName = keyof McpPoolEvents;
export type McpPoolListener<K extends McpPoolEventName> = (event: McpPoolEvents[K]) => unknown;

/**
 * Typed event hooks. Listeners run synchronously in registration order; one that throws (or returns a
 * promise that rejects) is reported to `onListenerError` and never affects the pool or other listeners.
 * A listener that returns a promise is not awaited: a slow listener cannot hold the pool up.
 */
export class PoolEvents {
  private readonly listeners = new Map<McpPoolEventName, Array<McpPoolListener<never>>>();
  /** Number of listeners over all events: lets the hot path skip building payloads nobody reads. */
  private count = 0;
  private parent: PoolEvents | undefined;

  constructor(private readonly onListenerError: (event: string, error: unknown) => void) {}

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends McpPoolEventName>(event: K, listener: McpPoolListener<K>): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as McpPoolListener<never>);
    this.listeners.set(event, list);
    this.count++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const l = this.listeners.get(event)!;
      l.splice(l.indexOf(listener as McpPoolListener<never>), 1);
      this.count--;
    };
  }

  /** Whether anyone listens to `event` (cheap; check before building a payload on a hot path). */
  has(event: McpPoolEventName): boolean {
    return (this.count > 0 && (this.listeners.get(event)?.length ?? 0) > 0) || (this.parent?.has(event) ?? false);
  }

  /** Sends every event emitted here to `parent` too (a partition's events reach its pool's listeners). */
  forwardTo(parent: PoolEvents): void {
    this.parent = parent;
  }

  emit<K extends McpPoolEventName>(event: K, payload: McpPoolEvents[K]): void {
    this.parent?.emit(event, payload);
    const list = this.listeners.get(event);
    if (!list || list.length === 0) return;
    for (const listener of [...list]) {
      try {
        const out = (listener as McpPoolListener<K>)(payload);
        if (out && typeof (out as Promise<unknown>).then === 'function') {
          (out as Promise<unknown>).then(undefined, (error: unknown) => this.onListenerError(event, error));
        }
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }
}

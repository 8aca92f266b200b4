/**
 * FIFO queue of callers waiting for a slot, as a doubly linked list so that a waiter that times out or
 * is aborted leaves from the middle in O(1) and is never served later.
 */
export interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
  readonly enqueuedAt: number;
  /** Set while queued; cleared by the queue when the waiter leaves it. */
  prev?: Waiter<T>;
  next?: Waiter<T>;
  queued: boolean;
  /** Cleanup of the waiter's deadline timer and abort listener; run exactly once when it leaves. */
  cleanup?: () => void;
}

export class WaiterQueue<T> {
  private head?: Waiter<T>;
  private tail?: Waiter<T>;
  private count = 0;

  /** @param total a count shared by several queues (a pool's slices), kept in step with this one's size. */
  constructor(private readonly total?: { waiting: number }) {}

  get size(): number {
    return this.count;
  }

  get isEmpty(): boolean {
    return this.count === 0;
  }

  push(w: Waiter<T>): void {
    w.queued = true;
    w.prev = this.tail;
    w.next = undefined;
    if (this.tail) this.tail.next = w;
    else this.head = w;
    this.tail = w;
    this.count++;
    if (this.total) this.total.waiting++;
  }

  /** Removes and returns the oldest waiter. */
  shift(): Waiter<T> | undefined {
    const w = this.head;
    if (w) this.remove(w);
    return w;
  }

  /** Removes `w` if it is still queued; returns whether it was. */
  remove(w: Waiter<T>): boolean {
    if (!w.queued) return false;
    w.queued = false;
    if (w.prev) w.prev.next = w.next;
    else this.head = w.next;
    if (w.next) w.next.prev = w.prev;
    else this.tail = w.prev;
    w.prev = w.next = undefined;
    this.count--;
    if (this.total) this.total.waiting--;
    w.cleanup?.();
    w.cleanup = undefined;
    return true;
  }

  /** Removes every waiter, oldest first. */
  drain(): Waiter<T>[] {
    const out: Waiter<T>[] = [];
    for (let w = this.shift(); w; w = this.shift()) out.push(w);
    return out;
  }
}

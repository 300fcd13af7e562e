// A fixed-size, in-memory ring of timed samples: the status page's and `drover top`'s
// history. Nothing is stored on disk; a restart of the supervisor starts an empty history.

export interface Timed {
  /** Milliseconds since the epoch. */
  at: number;
}

/** Keeps the last `capacity` items; the oldest is overwritten first. */
export class History<T extends Timed> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`history capacity must be a positive integer (got ${capacity})`);
    this.capacity = capacity;
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Oldest first. */
  all(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.next - this.count + i + this.capacity) % this.capacity]!);
    return out;
  }

  /** Items strictly after `at`, oldest first (what a viewer that has seen up to `at` lacks). */
  since(at: number): T[] {
    return this.all().filter((x) => x.at > at);
  }

  last(): T | undefined {
    return this.count === 0 ? undefined : this.items[(this.next - 1 + this.capacity) % this.capacity];
  }
}

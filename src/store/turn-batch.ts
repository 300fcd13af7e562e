// What arrives during one turn of the event loop, handed over at once when the turn's callbacks
// have run (setImmediate). A message between threads or a store write costs about the same
// whatever it carries, and a busy child makes thousands of calls a turn: the store thread's
// writes, the calls to it and back, the executor threads' store calls and their answers, and
// the rate limiter's takes each go as one per turn. It lives with the store, the layer the
// others build on, since the store's own thread uses it.

/** Items gathered by key: each key's items of one turn go to `flush` together, in arrival order. */
export class TurnBatches<K, T> {
  private readonly open = new Map<K, T[]>();
  private readonly flush: (key: K, items: T[]) => void;

  constructor(flush: (key: K, items: T[]) => void) {
    this.flush = flush;
  }

  add(key: K, item: T): void {
    let items = this.open.get(key);
    if (!items) {
      const gathered: T[] = (items = []);
      this.open.set(key, gathered);
      // A batch flushed early (flushNow) or dropped is not flushed again.
      setImmediate(() => {
        if (this.open.get(key) === gathered) this.flushNow(key);
      });
    }
    items.push(item);
  }

  /** Hands `key`'s items over now instead of at the end of the turn; nothing when there are none. */
  flushNow(key: K): void {
    const items = this.open.get(key);
    if (!items) return;
    this.open.delete(key);
    this.flush(key, items);
  }

  /** Forgets `key`'s items: there is nobody left to hand them to. */
  drop(key: K): void {
    this.open.delete(key);
  }
}

/** One list gathered per turn (TurnBatches with a single key). */
export class TurnBatch<T> {
  private readonly batches: TurnBatches<null, T>;

  constructor(flush: (items: T[]) => void) {
    this.batches = new TurnBatches((_key, items) => flush(items));
  }

  add(item: T): void {
    this.batches.add(null, item);
  }

  flushNow(): void {
    this.batches.flushNow(null);
  }
}

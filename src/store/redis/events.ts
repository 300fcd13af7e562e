// Subscriptions to a task's progress events. Each task's events are a list of entries that
// carry their seq; every append also PUBLISHes the entry on a channel named after the list.
// A subscription listens on that channel, then reads what is stored after its seq (so
// nothing between the two is missed), and delivers in seq order: an event that does not
// follow the last one delivered sends it back to the list for the gap. After a reconnect
// ioredis subscribes again by itself, and every subscription reads the list once more.
// A subscription that cannot be served any more (SUBSCRIBE refused, the connection given
// up for good, the store closed) ends with onEnd rather than going silent.
import type { RedisClient } from './connect.ts';
import type { SubscriptionEnd, TaskEvent, Unsubscribe } from '../types.ts';
import { deliverLater, endLater, type Delivery } from '../delivery.ts';

/** One stored or published entry: {"s":seq,"f":final,"d":event}. */
export function parseEvent(entry: string): TaskEvent {
  const parsed = JSON.parse(entry) as { s: number; f: boolean; d: unknown };
  return { seq: parsed.s, event: parsed.d, final: parsed.f };
}

interface Subscription extends Delivery {
  reading: boolean;
  readAgain: boolean;
}

export interface EventHubDeps {
  /** A connection of its own (a subscribed connection can do nothing else). */
  connect(): RedisClient;
  channel(taskId: string): string;
  read(taskId: string, afterSeq: number): Promise<TaskEvent[]>;
}

export class RedisEventHub {
  private readonly deps: EventHubDeps;
  private readonly subs = new Map<string, Set<Subscription>>();
  private readonly byChannel = new Map<string, string>();
  /** Per task: resolves once its channel is subscribed. */
  private readonly listening = new Map<string, Promise<boolean>>();
  private conn: RedisClient | null = null;
  private closed = false;

  constructor(deps: EventHubDeps) {
    this.deps = deps;
  }

  subscribe(taskId: string, afterSeq: number, onEvent: (event: TaskEvent) => void, onEnd?: SubscriptionEnd): Unsubscribe {
    const sub: Subscription = {
      taskId, lastSeq: afterSeq, onEvent, onEnd, queue: [], scheduled: false, closed: false, reading: false, readAgain: false,
    };
    const unsubscribe = () => {
      sub.closed = true;
      this.detach(sub);
    };
    if (this.closed) {
      endLater(sub, 'the store is closed');
      return unsubscribe;
    }
    let set = this.subs.get(taskId);
    if (!set) this.subs.set(taskId, (set = new Set()));
    set.add(sub);
    let listening = this.listening.get(taskId);
    if (!listening) {
      const channel = this.deps.channel(taskId);
      this.byChannel.set(channel, taskId);
      listening = this.connection().subscribe(channel).then(() => true, (err: unknown) => {
        // Not listening: every subscriber of the task would wait for nothing.
        this.endTask(taskId, `cannot subscribe: ${(err as Error).message}`);
        return false;
      });
      this.listening.set(taskId, listening);
    }
    // Listening before reading: what is published in between arrives twice and is dropped by seq.
    void listening.then((ok) => {
      if (ok) this.catchUp(sub);
    });
    return unsubscribe;
  }

  /** Subscribers are told (onEnd) that nothing more will come from this store. */
  close(): void {
    this.closed = true;
    for (const set of this.subs.values()) for (const sub of set) endLater(sub, 'the store is closed');
    this.subs.clear();
    this.byChannel.clear();
    this.listening.clear();
    this.conn?.disconnect();
    this.conn = null;
  }

  private connection(): RedisClient {
    if (this.conn) return this.conn;
    const conn = this.deps.connect();
    conn.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // Events published while the connection was down are in the lists.
    let connectedBefore = false;
    conn.on('ready', () => {
      if (connectedBefore) for (const set of this.subs.values()) for (const sub of set) this.catchUp(sub);
      connectedBefore = true;
    });
    conn.on('error', () => {
      // ioredis reconnects by itself; the 'ready' handler above fills what was missed.
    });
    // ioredis gave up reconnecting (its retry strategy said so): nothing more will arrive on
    // this connection. The next subscribe opens a new one.
    conn.on('end', () => {
      if (this.conn !== conn) return;
      this.conn = null;
      for (const taskId of [...this.subs.keys()]) this.endTask(taskId, 'the connection to redis ended');
    });
    this.conn = conn;
    return conn;
  }

  private endTask(taskId: string, reason: string): void {
    for (const sub of [...(this.subs.get(taskId) ?? [])]) {
      endLater(sub, reason);
      this.detach(sub);
    }
  }

  private onMessage(channel: string, message: string): void {
    const taskId = this.byChannel.get(channel);
    if (taskId === undefined) return;
    let event: TaskEvent;
    try {
      event = parseEvent(message);
    } catch {
      return;
    }
    for (const sub of [...(this.subs.get(taskId) ?? [])]) this.offer(sub, event);
  }

  private offer(sub: Subscription, event: TaskEvent): void {
    if (sub.closed || event.seq <= sub.lastSeq) return;
    if (event.seq === sub.lastSeq + 1 && !sub.reading) this.deliver(sub, event);
    else this.catchUp(sub);
  }

  /** Reads the list after the last delivered seq; one read at a time per subscription. */
  private catchUp(sub: Subscription): void {
    if (sub.closed) return;
    if (sub.reading) {
      sub.readAgain = true;
      return;
    }
    sub.reading = true;
    void (async () => {
      try {
        do {
          sub.readAgain = false;
          const events = await this.deps.read(sub.taskId, sub.lastSeq);
          // Stored entries are in order; a jump past lastSeq + 1 means the oldest were
          // trimmed away (more than eventsMax), and what is left is delivered.
          for (const event of events) {
            if (sub.closed) return;
            if (event.seq > sub.lastSeq) this.deliver(sub, event);
          }
        } while (sub.readAgain && !sub.closed);
      } catch {
        // Redis unreachable: the reconnect ('ready') reads again.
      } finally {
        sub.reading = false;
      }
    })();
  }

  private deliver(sub: Subscription, event: TaskEvent): void {
    deliverLater(sub, event);
    if (event.final) this.detach(sub);
  }

  private detach(sub: Subscription): void {
    const set = this.subs.get(sub.taskId);
    if (!set?.delete(sub)) return;
    if (set.size > 0) return;
    this.subs.delete(sub.taskId);
    const channel = this.deps.channel(sub.taskId);
    this.byChannel.delete(channel);
    this.listening.delete(sub.taskId);
    this.conn?.unsubscribe(channel).catch(() => undefined);
  }
}

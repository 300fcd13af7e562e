// Progress events. Each task numbers its events 1, 2, … (tasks.event_seq); the events table's
// own id is the global commit order, which is what a polling subscriber follows. SQLite has
// no notifications, so a process learns of events written by another process by polling
// `id > last seen` (one indexed query per tick for all its subscribers); events written by
// this process are handed over as soon as their transaction commits. Ids are assigned inside
// write transactions, which SQLite runs one at a time, so a reader that sees id N has every
// committed id below it: following ids misses nothing.
import type { SubscriptionEnd, TaskEvent, Unsubscribe } from '../types.ts';
import type { Db } from './db.ts';
import { deliverLater, endLater, type Delivery } from '../delivery.ts';
import { fromJson } from './json.ts';

interface EventRow {
  id: number;
  task_id: string;
  seq: number;
  final: number;
  data: string;
}

type Subscription = Delivery;

const POLL_BATCH = 1000;

export function readEvents(db: Db, taskId: string, afterSeq: number, limit: number): TaskEvent[] {
  return db
    .all<EventRow>('SELECT seq, final, data FROM events WHERE task_id = :taskId AND seq > :afterSeq ORDER BY seq LIMIT :limit', {
      taskId, afterSeq, limit,
    })
    .map(toEvent);
}

function toEvent(row: Pick<EventRow, 'seq' | 'final' | 'data'>): TaskEvent {
  return { seq: row.seq, event: fromJson(row.data), final: row.final === 1 };
}

export class EventHub {
  private readonly db: Db;
  private readonly pollMs: number;
  private readonly subs = new Map<string, Set<Subscription>>();
  private timer: NodeJS.Timeout | null = null;
  private lastId = 0;
  private readonly onWatch: ((taskId: string, on: boolean) => void) | undefined;

  /** `onWatch` hears when a task gets its first subscriber here (on) and loses its last (off). */
  constructor(db: Db, pollMs: number, onWatch?: (taskId: string, on: boolean) => void) {
    this.db = db;
    this.pollMs = pollMs;
    this.onWatch = onWatch;
  }

  subscribe(taskId: string, afterSeq: number, onEvent: (event: TaskEvent) => void, onEnd?: SubscriptionEnd): Unsubscribe {
    const sub: Subscription = { taskId, lastSeq: afterSeq, onEvent, onEnd, queue: [], scheduled: false, closed: false };
    // Start following the commit order before reading what is stored, so nothing committed
    // in between is missed (what arrives twice is dropped by seq).
    this.startPolling();
    let set = this.subs.get(taskId);
    if (!set) {
      this.subs.set(taskId, (set = new Set()));
      this.onWatch?.(taskId, true);
    }
    set.add(sub);
    this.catchUp(sub);
    return () => {
      sub.closed = true;
      this.detach(sub);
    };
  }

  wants(taskId: string): boolean {
    return this.subs.has(taskId);
  }

  /** Events committed by this process. */
  dispatch(taskId: string, event: TaskEvent): void {
    try {
      for (const sub of [...(this.subs.get(taskId) ?? [])]) this.offer(sub, event);
    } catch {
      // A failed catch-up read left lastSeq where it was: the poller fills the gap.
    }
  }

  /** Subscribers are told (onEnd) that nothing more will come from this store. */
  close(): void {
    for (const set of this.subs.values()) for (const sub of set) endLater(sub, 'the store is closed');
    this.subs.clear();
    this.stopPolling();
  }

  private offer(sub: Subscription, event: TaskEvent): void {
    if (sub.closed || event.seq <= sub.lastSeq) return;
    // A gap means another process committed events this one has not polled yet.
    if (event.seq !== sub.lastSeq + 1) this.catchUp(sub);
    else this.enqueue(sub, event);
  }

  private catchUp(sub: Subscription): void {
    for (const event of readEvents(this.db, sub.taskId, sub.lastSeq, Number.MAX_SAFE_INTEGER)) this.enqueue(sub, event);
  }

  private enqueue(sub: Subscription, event: TaskEvent): void {
    deliverLater(sub, event);
    if (event.final) this.detach(sub);
  }

  private detach(sub: Subscription): void {
    const set = this.subs.get(sub.taskId);
    set?.delete(sub);
    if (set?.size === 0) {
      this.subs.delete(sub.taskId);
      this.onWatch?.(sub.taskId, false);
    }
    if (this.subs.size === 0) this.stopPolling();
  }

  private startPolling(): void {
    if (this.timer) return;
    this.lastId = this.db.get<{ id: number }>('SELECT COALESCE(MAX(id), 0) AS id FROM events')?.id ?? 0;
    this.timer = setInterval(() => this.poll(), this.pollMs);
    // A subscription alone must not keep a process alive (its HTTP connection does).
    this.timer.unref();
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private poll(): void {
    try {
      let rows: EventRow[];
      do {
        rows = this.db.all<EventRow>('SELECT id, task_id, seq, final, data FROM events WHERE id > :lastId ORDER BY id LIMIT :limit', {
          lastId: this.lastId, limit: POLL_BATCH,
        });
        for (const row of rows) {
          this.lastId = row.id;
          const set = this.subs.get(row.task_id);
          if (set) for (const sub of [...set]) this.offer(sub, toEvent(row));
        }
      } while (rows.length === POLL_BATCH);
    } catch {
      // Busy or closing: the next tick tries again, and close() stops the timer.
    }
  }
}

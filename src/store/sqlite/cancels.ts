// Cancel notices for running tasks. SQLite has no notifications, so a process follows the
// events table (its id is the global commit order, see events.ts) for the `cancelling` status
// events that cancel() writes, with one indexed range query per tick while anyone watches;
// each new row is looked at once, and its data is matched in SQL, not read into JS.
import type { Unsubscribe } from '../types.ts';
import type { Db } from './db.ts';

/** How a `cancelling` status event's JSON starts (appendStatus writes type, then status). */
const CANCELLING_PREFIX = `${JSON.stringify({ type: 'status', status: 'cancelling' }).slice(0, -1)}%`;

export class CancelWatch {
  private readonly db: Db;
  private readonly pollMs: number;
  private readonly listeners = new Set<(taskId: string) => void>();
  private timer: NodeJS.Timeout | null = null;
  private lastId = 0;

  constructor(db: Db, pollMs: number) {
    this.db = db;
    this.pollMs = pollMs;
  }

  watch(listener: (taskId: string) => void): Unsubscribe {
    if (!this.timer) {
      this.lastId = this.db.get<{ id: number }>('SELECT COALESCE(MAX(id), 0) AS id FROM events')?.id ?? 0;
      this.timer = setInterval(() => this.poll(), this.pollMs);
      // Watching alone must not keep a process alive.
      this.timer.unref();
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private poll(): void {
    let rows: { task_id: string }[];
    let upTo: number;
    try {
      // Up to the newest id first: every id below it is committed (events.ts), so nothing
      // committed between the two reads is skipped.
      upTo = this.db.get<{ id: number }>('SELECT COALESCE(MAX(id), 0) AS id FROM events')?.id ?? 0;
      if (upTo <= this.lastId) return;
      rows = this.db.all('SELECT task_id FROM events WHERE id > :lastId AND id <= :upTo AND final = 0 AND data LIKE :prefix ORDER BY id', {
        lastId: this.lastId, upTo, prefix: CANCELLING_PREFIX,
      });
    } catch {
      return; // busy or closing: the next tick tries again
    }
    this.lastId = upTo;
    for (const { task_id } of rows) for (const l of [...this.listeners]) l(task_id);
  }
}

// Cancel notices for running tasks. SQLite has no notifications, so a process follows the
// events table (its id is the global commit order, see events.ts) for the `cancelling` status
// events that cancel() writes, with one range query per tick while anyone watches. The query
// reads a partial index of those events alone (schema.ts, migration 5): every child polls, and
// scanning every new event's data cost each child's main thread ~5 % of its time at 3,700
// tasks/s (four events each).
import type { Unsubscribe } from '../types.ts';
import type { Db } from './db.ts';

/** How a `cancelling` status event's JSON starts (appendStatus writes type, then status). */
export const CANCELLING_PREFIX = JSON.stringify({ type: 'status', status: 'cancelling' }).slice(0, -1);

/** The condition of the partial index events_cancelling, word for word in the poll's query:
 * SQLite uses a partial index only for a query whose WHERE repeats the index's terms. */
export const CANCELLING_EVENT = `final = 0 AND substr(data, 1, ${CANCELLING_PREFIX.length}) = '${CANCELLING_PREFIX}'`;

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
      rows = this.db.all(`SELECT task_id FROM events INDEXED BY events_cancelling WHERE ${CANCELLING_EVENT} AND id > :lastId AND id <= :upTo ORDER BY id`, {
        lastId: this.lastId, upTo,
      });
    } catch {
      return; // busy or closing: the next tick tries again
    }
    this.lastId = upTo;
    for (const { task_id } of rows) for (const l of [...this.listeners]) l(task_id);
  }
}

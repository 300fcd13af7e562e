// Progress and status events, written inside the store's write transactions; each is handed to
// this process's subscribers once its transaction commits (event-hub.ts delivers and polls).
import { isTerminal, type StatusEvent, type TaskError, type TaskStatus } from '../types.ts';
import { ACTIVE, fromJson, toJson, type Ctx, type TaskRow } from './context.ts';

/** Inside a write transaction: stores the event with the seq the caller allocated. */
export function appendEvent(ctx: Ctx, taskId: string, seq: number, event: unknown, final: boolean): void {
  appendEventJson(ctx, taskId, seq, toJson(event), final);
}

function appendEventJson(ctx: Ctx, taskId: string, seq: number, data: string, final: boolean): void {
  ctx.db.run('INSERT INTO events (task_id, seq, final, data) VALUES (:taskId, :seq, :final, :data)', {
    taskId, seq, final: final ? 1 : 0, data,
  });
  deliverAtCommit(ctx, taskId, seq, data, final);
}

/** Subscribers here get what subscribers elsewhere get: the stored JSON, not the caller's object.
 * Nobody subscribes within a write (it runs to its end synchronously), so asking now is asking
 * at the commit; an event nobody here watches is not parsed back. */
function deliverAtCommit(ctx: Ctx, taskId: string, seq: number, data: string, final: boolean): void {
  if (ctx.hub.wants(taskId)) ctx.db.afterCommit(() => ctx.hub.dispatch(taskId, { seq, event: fromJson(data), final }));
}

/** What a status event is made of: the columns an UPDATE that changes a status reads back. */
export const STATUS_COLUMNS = 'id, status, attempt, event_seq, result, run_at';
export type StatusRow = Pick<TaskRow, 'id' | 'status' | 'attempt' | 'event_seq' | 'result' | 'run_at'>;

/** Inside a write transaction, after an UPDATE … SET status = …, event_seq = event_seq + 1
 * RETURNING (at least) STATUS_COLUMNS: publishes the change, with the failure that caused it if any. */
export function appendStatus(ctx: Ctx, row: StatusRow, error: TaskError | null): void {
  const status = row.status as TaskStatus;
  if (status === 'succeeded') {
    appendEventJson(ctx, row.id, row.event_seq, succeededJson(row), true);
    return;
  }
  const event: StatusEvent = { type: 'status', status, attempt: row.attempt };
  if (error) event.error = error;
  if (status === 'queued') event.runAt = row.run_at;
  appendEvent(ctx, row.id, row.event_seq, event, isTerminal(status));
}

/** The text JSON.stringify({ type, status, attempt, result }) would give, with the result as the
 * JSON just stored: parsing it only to write it out again costs in proportion to the answer (an
 * agent's runs to kilobytes), inside the write lock. A success records no error. */
function succeededJson(row: StatusRow): string {
  return `{"type":"status","status":"succeeded","attempt":${row.attempt},"result":${row.result ?? 'null'}}`;
}

/** appendStatus for many tasks that just succeeded, in one INSERT. */
export function appendSucceeded(ctx: Ctx, rows: readonly StatusRow[]): void {
  if (rows.length === 0) return;
  const events = rows.map((row) => ({ id: row.id, seq: row.event_seq, data: succeededJson(row) }));
  ctx.db.run(
    `INSERT INTO events (task_id, seq, final, data) SELECT value ->> 'id', value ->> 'seq', 1, value ->> 'data' FROM json_each(:events)`,
    { events: JSON.stringify(events) },
  );
  for (const e of events) deliverAtCommit(ctx, e.id, e.seq, e.data, true);
}

/** One progress event in a batch: what publish() takes. */
export interface Progress {
  taskId: string;
  fence: number;
  event: unknown;
}

/**
 * publish() for many events, in one UPDATE of their tasks' seqs and one INSERT, instead of two
 * statements for each (the store thread's batch, thread.ts). Events of one task keep their order
 * and get consecutive seqs. Answers as publish() would, in order.
 */
export function publishAll(ctx: Ctx, items: readonly Progress[]): (number | null)[] {
  return ctx.db.write(() => {
    // Per task and fence: how many events, and (once the UPDATE said the claim holds) the next seq to hand out.
    const groups = new Map<string, { id: string; fence: number; n: number; next?: number }>();
    const groupOf = items.map((item) => {
      const key = `${item.fence}:${item.taskId}`;
      let g = groups.get(key);
      if (g) g.n++;
      else groups.set(key, (g = { id: item.taskId, fence: item.fence, n: 1 }));
      return g;
    });
    const data = items.map((item) => toJson(item.event));
    // Only the fence that holds a task matches it, so each task row joins at most one group.
    const rows = ctx.db.all<{ id: string; fence: number; event_seq: number }>(
      `UPDATE tasks SET event_seq = event_seq + (j.value ->> 'n')
       FROM json_each(:groups) j
       WHERE tasks.id = j.value ->> 'id' AND tasks.fence = j.value ->> 'fence' AND ${ACTIVE}
       RETURNING id, fence, event_seq`,
      { groups: JSON.stringify([...groups.values()]) },
    );
    for (const row of rows) {
      const g = groups.get(`${row.fence}:${row.id}`)!;
      g.next = row.event_seq - g.n + 1;
    }
    const events: { id: string; seq: number; data: string }[] = [];
    const seqs = items.map((item, i) => {
      const g = groupOf[i]!;
      if (g.next === undefined) return null;
      const seq = g.next++;
      events.push({ id: item.taskId, seq, data: data[i]! });
      return seq;
    });
    if (events.length > 0) {
      ctx.db.run(
        `INSERT INTO events (task_id, seq, final, data) SELECT value ->> 'id', value ->> 'seq', 0, value ->> 'data' FROM json_each(:events)`,
        { events: JSON.stringify(events) },
      );
      for (const e of events) deliverAtCommit(ctx, e.id, e.seq, e.data, false);
    }
    return seqs;
  });
}

/** A progress event of the attempt holding `fence`; dropped (null) once another holds the task. */
export function publish(ctx: Ctx, taskId: string, fence: number, event: unknown): number | null {
  return ctx.db.write(() => {
    const row = ctx.db.get<{ event_seq: number }>(
      `UPDATE tasks SET event_seq = event_seq + 1 WHERE id = :taskId AND fence = :fence AND ${ACTIVE} RETURNING event_seq`,
      { taskId, fence },
    );
    if (!row) return null;
    appendEvent(ctx, taskId, row.event_seq, event, false);
    return row.event_seq;
  });
}

// Every status change of a task goes through here: one UPDATE that also allocates the next
// event seq, then the status event published in the same transaction, and the move from the
// status the caller knows the task had to its new one counted (counts.ts). A `where` clause
// (fence, current status) makes the change conditional; no row back means nothing changed.
import type { TaskError, TaskStatus } from '../types.ts';
import { appendStatus, appendSucceeded, STATUS_COLUMNS, type StatusRow } from './events.ts';
import { toJson, type Ctx, type TaskRow } from './context.ts';
import type { Params } from './db.ts';

/** `from`: the status the task has now (the caller read it, or `where` makes sure of it).
 * `error` is the failure this change records, shown in its status event. `returning`: the
 * columns read back (the whole row by default). */
function transition<Row extends CountedRow = TaskRow>(
  ctx: Ctx, now: number, id: string, from: TaskStatus, set: string, params: Params,
  opts: { where?: string; error?: TaskError | null; returning?: string } = {},
): Row | undefined {
  const row = ctx.db.get<Row>(
    `UPDATE tasks SET ${set}, updated_at = :now, event_seq = event_seq + 1 WHERE id = :id ${opts.where ?? ''} RETURNING ${opts.returning ?? '*'}`,
    { ...params, id, now },
  );
  if (!row) return row;
  ctx.db.counts.move(row.tenant, row.priority, from, row.status);
  appendStatus(ctx, row, opts.error ?? null);
  return row;
}

/** What a status change reads back: its event's columns and the counters' keys. */
type CountedRow = StatusRow & Pick<TaskRow, 'tenant' | 'priority'>;
const COUNTED_COLUMNS = `${STATUS_COLUMNS}, tenant, priority`;

// Attempts: a claim opens one; every change that ends a run (back to the queue, succeeded,
// dead, cancelled) closes the open one with the failure it records; a release on drain,
// which gives the attempt back, removes it.
function endAttempt(ctx: Ctx, now: number, id: string, error: TaskError | null): void {
  ctx.db.run('UPDATE attempts SET finished_at = :now, error = :error WHERE task_id = :id AND finished_at IS NULL', {
    id, now, error: error ? toJson(error) : null,
  });
}

/** Claims the queued tasks `claimable` (a SELECT of ids taking :now and :n) selects, in one UPDATE and
 * one INSERT of their attempts, not two statements per task; rows in claim order (priority,
 * then age). The ids are selected before any row changes, as one snapshot. */
export function toRunning(ctx: Ctx, now: number, claimable: string, params: Params, worker: string, leaseUntil: number): TaskRow[] {
  const rows = ctx.db.all<TaskRow>(
    `UPDATE tasks SET status = 'running', attempt = attempt + 1, fence = fence + 1, worker = :worker, lease_until = :leaseUntil,
       started_at = :now, updated_at = :now, event_seq = event_seq + 1
     WHERE id IN (${claimable}) RETURNING *`,
    { ...params, worker, leaseUntil, now },
  );
  if (rows.length === 0) return rows;
  rows.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
  ctx.db.run(
    `INSERT INTO attempts (task_id, n, started_at)
     SELECT value ->> 'id', value ->> 'n', :now FROM json_each(:claimed) WHERE true
     ON CONFLICT (task_id, n) DO UPDATE SET started_at = :now, finished_at = NULL, error = NULL`,
    { claimed: JSON.stringify(rows.map((r) => ({ id: r.id, n: r.attempt }))), now },
  );
  for (const row of rows) {
    ctx.db.counts.move(row.tenant, row.priority, 'queued', 'running');
    appendStatus(ctx, row, null);
  }
  return rows;
}

export function toCancelling(ctx: Ctx, now: number, id: string): TaskRow | undefined {
  return transition(ctx, now, id, 'running', `status = 'cancelling'`, {}, { where: `AND status = 'running'` });
}

/** Back to the queue from `running`. `countAttempt: false` gives the attempt back (a release on drain). */
export function toQueued(
  ctx: Ctx, now: number, id: string, opts: { runAt: number; error: TaskError | null; countAttempt: boolean },
): TaskRow | undefined {
  if (opts.countAttempt) endAttempt(ctx, now, id, opts.error);
  else ctx.db.run('DELETE FROM attempts WHERE task_id = :id AND finished_at IS NULL', { id });
  return transition(
    ctx, now, id, 'running',
    `status = 'queued', run_at = :runAt, lease_until = NULL, error = COALESCE(:error, error)` +
      (opts.countAttempt ? '' : ', attempt = attempt - 1'),
    { runAt: opts.runAt, error: opts.error ? toJson(opts.error) : null },
    { error: opts.error },
  );
}

/** The claim holding `fence` succeeds; false when it no longer holds the task. `error` becomes
 * null: the task's error is the one it ended with (earlier ones are in attempts). Every task
 * ends here, so the one UPDATE also checks the claim (no SELECT before it) and reads back only
 * what the event needs, not the whole row with its input. */
export function toSucceeded(ctx: Ctx, now: number, id: string, fence: number, result: unknown): boolean {
  const succeed = (from: TaskStatus) => transition<CountedRow>(
    ctx, now, id, from, `status = 'succeeded', result = :result, error = NULL, lease_until = NULL, finished_at = :now`,
    { result: toJson(result), fence }, { where: `AND fence = :fence AND status = '${from}'`, returning: COUNTED_COLUMNS },
  );
  // Running, unless a cancel was asked for meanwhile (the result still wins): the count moves
  // from the status the task had, and UPDATE … RETURNING reads back only the new one.
  const row = succeed('running') ?? succeed('cancelling');
  if (!row) return false;
  endAttempt(ctx, now, id, null);
  return true;
}

/** One claim's completion in a batch, at its own time. */
export interface Completion {
  taskId: string;
  fence: number;
  result: unknown;
  now: number;
}

/** toSucceeded for many claims at once, each at its own time: one UPDATE, one INSERT of their
 * status events and one UPDATE of their attempts, instead of three statements for each (a
 * completion cost ~40 % less inside the write lock, bench/RESULTS.md). A claim the batch did
 * not change (a cancel was asked for, the fence is stale, its task came twice) goes through
 * toSucceeded after it. Answers as toSucceeded would, in order. */
export function toSucceededAll(ctx: Ctx, items: readonly Completion[]): boolean[] {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    if (!first.has(item.taskId)) first.set(item.taskId, i);
  });
  const batch = [...first.values()].map((i) => ({ id: items[i]!.taskId, fence: items[i]!.fence, result: toJson(items[i]!.result), now: items[i]!.now }));
  const rows = ctx.db.all<CountedRow & { finished_at: number }>(
    `UPDATE tasks SET status = 'succeeded', result = j.value ->> 'result', error = NULL, lease_until = NULL,
       finished_at = j.value ->> 'now', updated_at = j.value ->> 'now', event_seq = event_seq + 1
     FROM json_each(:batch) j
     WHERE tasks.id = j.value ->> 'id' AND tasks.fence = j.value ->> 'fence' AND tasks.status = 'running'
     RETURNING ${COUNTED_COLUMNS}, finished_at`,
    { batch: JSON.stringify(batch) },
  );
  const done = new Set<string>();
  for (const row of rows) {
    done.add(row.id);
    ctx.db.counts.move(row.tenant, row.priority, 'running', 'succeeded');
  }
  appendSucceeded(ctx, rows);
  ctx.db.run(
    `UPDATE attempts SET finished_at = j.value ->> 'now', error = NULL
     FROM json_each(:ended) j WHERE attempts.task_id = j.value ->> 'id' AND attempts.finished_at IS NULL`,
    { ended: JSON.stringify(rows.map((r) => ({ id: r.id, now: r.finished_at }))) },
  );
  return items.map((item, i) => (first.get(item.taskId) === i && done.has(item.taskId)) || toSucceeded(ctx, item.now, item.taskId, item.fence, item.result));
}

/** From `running`: its last attempt failed. */
export function toDead(ctx: Ctx, now: number, id: string, error: TaskError): TaskRow | undefined {
  endAttempt(ctx, now, id, error);
  return transition(
    ctx, now, id, 'running', `status = 'dead', error = :error, lease_until = NULL, finished_at = :now`, { error: toJson(error) }, { error },
  );
}

/** From `queued`, or from `cancelling` when its attempt ends. */
export function toCancelled(ctx: Ctx, now: number, id: string, from: 'queued' | 'cancelling', error: TaskError | null = null): TaskRow | undefined {
  endAttempt(ctx, now, id, error);
  return transition(
    ctx, now, id, from, `status = 'cancelled', error = COALESCE(:error, error), lease_until = NULL, finished_at = :now`,
    { error: error ? toJson(error) : null },
    { error },
  );
}

// Every status change of a task goes through here: one UPDATE that also allocates the next
// event seq, then the status event published in the same transaction. A `where` clause
// (fence, current status) makes the change conditional; no row back means nothing changed.
import type { TaskError } from '../types.ts';
import { appendStatus } from './events.ts';
import { toJson, type Ctx, type TaskRow } from './context.ts';
import type { Params } from './db.ts';

/** `error` is the failure this change records, shown in its status event. */
function transition(
  ctx: Ctx, now: number, id: string, set: string, params: Params, opts: { where?: string; error?: TaskError | null } = {},
): TaskRow | undefined {
  const row = ctx.db.get<TaskRow>(
    `UPDATE tasks SET ${set}, updated_at = :now, event_seq = event_seq + 1 WHERE id = :id ${opts.where ?? ''} RETURNING *`,
    { ...params, id, now },
  );
  if (row) appendStatus(ctx, row, opts.error ?? null);
  return row;
}

export function toRunning(ctx: Ctx, now: number, id: string, worker: string, leaseUntil: number): TaskRow {
  const row = transition(
    ctx, now, id,
    `status = 'running', attempt = attempt + 1, fence = fence + 1, worker = :worker, lease_until = :leaseUntil, started_at = :now`,
    { worker, leaseUntil },
  );
  if (!row) throw new Error(`claimed task ${id} vanished inside its transaction`);
  return row;
}

export function toCancelling(ctx: Ctx, now: number, id: string): TaskRow | undefined {
  return transition(ctx, now, id, `status = 'cancelling'`, {}, { where: `AND status = 'running'` });
}

/** Back to the queue. `countAttempt: false` gives the attempt back (a release on drain). */
export function toQueued(
  ctx: Ctx, now: number, id: string, opts: { runAt: number; error: TaskError | null; countAttempt: boolean },
): TaskRow | undefined {
  return transition(
    ctx, now, id,
    `status = 'queued', run_at = :runAt, lease_until = NULL, error = COALESCE(:error, error)` +
      (opts.countAttempt ? '' : ', attempt = attempt - 1'),
    { runAt: opts.runAt, error: opts.error ? toJson(opts.error) : null },
    { error: opts.error },
  );
}

export function toSucceeded(ctx: Ctx, now: number, id: string, result: unknown): TaskRow | undefined {
  return transition(ctx, now, id, `status = 'succeeded', result = :result, lease_until = NULL, finished_at = :now`, {
    result: toJson(result),
  });
}

export function toDead(ctx: Ctx, now: number, id: string, error: TaskError): TaskRow | undefined {
  return transition(
    ctx, now, id, `status = 'dead', error = :error, lease_until = NULL, finished_at = :now`, { error: toJson(error) }, { error },
  );
}

export function toCancelled(ctx: Ctx, now: number, id: string, error: TaskError | null = null): TaskRow | undefined {
  return transition(
    ctx, now, id, `status = 'cancelled', error = COALESCE(:error, error), lease_until = NULL, finished_at = :now`,
    { error: error ? toJson(error) : null },
    { error },
  );
}

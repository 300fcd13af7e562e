// What a claim's holder does with its task (renew, complete, fail, release), each checked
// against the fence so a worker whose lease was taken over changes nothing, and cancel.
import type { FailOptions, FailResult, RenewResult, Task, TaskError } from '../types.ts';
import { validateLease } from '../validate.ts';
import { ACTIVE, toTaskOf, type Ctx, type TaskRow } from './context.ts';
import { toCancelled, toCancelling, toDead, toQueued, toSucceeded, toSucceededAll, type Completion } from './transitions.ts';

interface Held {
  status: string;
  attempt: number;
  max_attempts: number;
}

/** The task's state if (taskId, fence) is still the current claim. */
function held(ctx: Ctx, taskId: string, fence: number): Held | undefined {
  return ctx.db.get<Held>(`SELECT status, attempt, max_attempts FROM tasks WHERE id = :taskId AND fence = :fence AND ${ACTIVE}`, {
    taskId, fence,
  });
}

// A lease that ran out but was not reaped yet is still this worker's: nobody else can hold
// the task without the reaper having moved it first (which changes the status or fence).
export function renew(ctx: Ctx, taskId: string, fence: number, leaseMs: number): RenewResult {
  validateLease(leaseMs);
  const now = ctx.clock();
  return ctx.db.write(() => {
    const row = ctx.db.get<{ status: string }>(
      `UPDATE tasks SET lease_until = :leaseUntil, updated_at = :now
       WHERE id = :taskId AND fence = :fence AND ${ACTIVE} RETURNING status`,
      { taskId, fence, leaseUntil: now + leaseMs, now },
    );
    if (!row) return 'lost';
    return row.status === 'cancelling' ? 'cancelling' : 'renewed';
  });
}

// A result that arrives after a cancel was asked for still wins: the work is done.
export function complete(ctx: Ctx, taskId: string, fence: number, result: unknown): boolean {
  const now = ctx.clock();
  return ctx.db.write(() => toSucceeded(ctx, now, taskId, fence, result));
}

/** complete() for each claim, in one write: the store thread's batch of completions (thread.ts). */
export function completeAll(ctx: Ctx, items: readonly Completion[]): boolean[] {
  return ctx.db.write(() => toSucceededAll(ctx, items));
}

export function fail(ctx: Ctx, taskId: string, fence: number, error: TaskError, opts: FailOptions): FailResult {
  const now = ctx.clock();
  const cleanError: TaskError = { code: String(error.code), message: String(error.message) };
  return ctx.db.write(() => {
    const task = held(ctx, taskId, fence);
    if (!task) return 'stale';
    if (task.status === 'cancelling') {
      toCancelled(ctx, now, taskId, 'cancelling', cleanError);
      return 'cancelled';
    }
    if (opts.retryable && task.attempt < task.max_attempts) {
      toQueued(ctx, now, taskId, { runAt: now + Math.max(0, opts.retryDelayMs), error: cleanError, countAttempt: true });
      return 'retrying';
    }
    toDead(ctx, now, taskId, cleanError);
    return 'dead';
  });
}

export function release(ctx: Ctx, taskId: string, fence: number): boolean {
  const now = ctx.clock();
  return ctx.db.write(() => {
    const task = held(ctx, taskId, fence);
    if (!task) return false;
    if (task.status === 'cancelling') toCancelled(ctx, now, taskId, 'cancelling');
    else toQueued(ctx, now, taskId, { runAt: now, error: null, countAttempt: false });
    return true;
  });
}

export function cancel(ctx: Ctx, tenant: string, id: string): Task | null {
  const now = ctx.clock();
  return ctx.db.write(() => {
    const row = ctx.db.get<TaskRow>('SELECT * FROM tasks WHERE id = :id AND tenant = :tenant', { id, tenant });
    if (!row) return null;
    const changed =
      row.status === 'queued' ? toCancelled(ctx, now, id, 'queued')
      : row.status === 'running' ? toCancelling(ctx, now, id)
      : undefined;
    return toTaskOf(ctx.db, changed ?? row);
  });
}

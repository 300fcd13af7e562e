// What every part of the SQLite backend works with, and the mapping from a tasks row to
// the backend-neutral Task.
import type { Clock, ClaimedTask, StoreOptions, Task, TaskAttempt, TaskError, TaskEvent, TaskKind, TaskStatus } from '../types.ts';
import type { Db } from './db.ts';
import { fromJson } from './json.ts';

export { fromJson, toJson } from './json.ts';

export interface Ctx {
  db: Db;
  clock: Clock;
  opts: Omit<Required<StoreOptions>, 'clock'>;
  /** Where committed events go: this process's subscribers (event-hub.ts), or from a store
   * thread to them (thread.ts). */
  hub: {
    /** Whether anything here listens to the task's events: most tasks have no subscriber. */
    wants(taskId: string): boolean;
    dispatch(taskId: string, event: TaskEvent): void;
  };
}

export interface TaskRow {
  seq: number;
  id: string;
  tenant: string;
  kind: string;
  session_id: string | null;
  status: string;
  priority: number;
  input: string;
  result: string | null;
  error: string | null;
  attempt: number;
  max_attempts: number;
  timeout_ms: number;
  idempotency_key: string | null;
  request_hash: string | null;
  worker: string | null;
  fence: number;
  lease_until: number | null;
  event_seq: number;
  created_at: number;
  updated_at: number;
  run_at: number;
  started_at: number | null;
  finished_at: number | null;
}

interface AttemptRow {
  task_id: string;
  n: number;
  started_at: number;
  finished_at: number | null;
  error: string | null;
}

/** The attempts of these tasks, by task id, oldest first: one query for a whole page. */
function attemptsOf(db: Db, ids: string[]): Map<string, TaskAttempt[]> {
  const byTask = new Map<string, TaskAttempt[]>();
  if (ids.length === 0) return byTask;
  const rows = db.all<AttemptRow>(
    'SELECT * FROM attempts WHERE task_id IN (SELECT value FROM json_each(:ids)) ORDER BY task_id, n',
    { ids: JSON.stringify(ids) },
  );
  for (const r of rows) {
    let list = byTask.get(r.task_id);
    if (!list) byTask.set(r.task_id, (list = []));
    list.push({ n: r.n, error: fromJson(r.error) as TaskError | null, startedAt: r.started_at, finishedAt: r.finished_at });
  }
  return byTask;
}

/** Rows → tasks with their attempts. */
export function toTasks(db: Db, rows: TaskRow[]): Task[] {
  const attempts = attemptsOf(db, rows.map((r) => r.id));
  return rows.map((r) => toTask(r, attempts.get(r.id) ?? []));
}

export function toTaskOf(db: Db, row: TaskRow): Task {
  return toTasks(db, [row])[0]!;
}

function toTask(row: TaskRow, attempts: TaskAttempt[]): Task {
  return {
    id: row.id,
    tenant: row.tenant,
    kind: row.kind as TaskKind,
    sessionId: row.session_id,
    status: row.status as TaskStatus,
    priority: row.priority,
    input: fromJson(row.input),
    result: fromJson(row.result),
    error: fromJson(row.error) as TaskError | null,
    attempt: row.attempt,
    attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    idempotencyKey: row.idempotency_key,
    worker: row.worker,
    leaseUntil: row.lease_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    runAt: row.run_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** Rows the claim just made running. A first attempt's history is the attempt the claim
 * opened, so only retried tasks' attempts are read: the claim holds the write lock. */
export function toClaimedTasks(db: Db, rows: TaskRow[]): ClaimedTask[] {
  const retried = attemptsOf(db, rows.filter((r) => r.attempt > 1).map((r) => r.id));
  return rows.map((r) => ({
    ...toTask(r, retried.get(r.id) ?? [{ n: r.attempt, error: null, startedAt: r.started_at!, finishedAt: null }]),
    fence: r.fence,
  }));
}

export const ACTIVE = `status IN ('running', 'cancelling')`;
export const TERMINAL = `status IN ('succeeded', 'dead', 'cancelled')`;

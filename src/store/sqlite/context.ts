// What every part of the SQLite backend works with, and the mapping from a tasks row to
// the backend-neutral Task.
import type { Clock, ClaimedTask, StoreOptions, Task, TaskError, TaskKind, TaskStatus } from '../types.ts';
import type { Db } from './db.ts';
import type { EventHub } from './events.ts';

export interface Ctx {
  db: Db;
  clock: Clock;
  opts: Omit<Required<StoreOptions>, 'clock'>;
  hub: EventHub;
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

/** JSON text for a column; undefined (a function returning nothing) is stored as null. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

export function toTask(row: TaskRow): Task {
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

export function toClaimedTask(row: TaskRow): ClaimedTask {
  return { ...toTask(row), fence: row.fence };
}

export const ACTIVE = `status IN ('running', 'cancelling')`;
export const TERMINAL = `status IN ('succeeded', 'dead', 'cancelled')`;

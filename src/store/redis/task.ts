// A task hash (HGETALL's flat [field, value, …] as the scripts return it) as the contract's
// Task. Absent fields are null; JSON fields are parsed here, never inside Lua.
import type { ClaimedTask, Task, TaskAttempt, TaskError, TaskKind, TaskStatus } from '../types.ts';

export function toFields(flat: unknown): Map<string, string> {
  const list = flat as string[];
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < list.length; i += 2) map.set(list[i] as string, list[i + 1] as string);
  return map;
}

/** A task's own fields (lib.lua's FIELDS): its hash also holds its events (e:<seq>). */
export const TASK_FIELDS = [
  'id', 'tenant', 'kind', 'sessionId', 'status', 'priority', 'input', 'result', 'error', 'attempt', 'attempts',
  'maxAttempts', 'timeoutMs', 'idempotencyKey', 'requestHash', 'worker', 'leaseUntil', 'createdAt', 'updatedAt',
  'runAt', 'startedAt', 'finishedAt', 'fence', 'evseq', 'qseq',
] as const;

/** HMGET's answer for TASK_FIELDS as fields; empty when the task does not exist. */
export function fromHmget(values: (string | null)[]): Map<string, string> {
  const map = new Map<string, string>();
  values.forEach((v, i) => {
    if (v !== null) map.set(TASK_FIELDS[i] as string, v);
  });
  return map;
}

function json(value: string | undefined): unknown {
  return value === undefined ? null : JSON.parse(value);
}

function int(value: string | undefined): number | null {
  return value === undefined ? null : Number(value);
}

/** The finished runs (the `attempts` field: [n, error, startedAt, finishedAt] arrays joined
 * by commas, see lib.lua's end_attempt; objects in hashes written before), then the open one
 * while the task runs. */
function attempts(f: Map<string, string>, status: TaskStatus): TaskAttempt[] {
  const finished = f.get('attempts');
  const stored = finished === undefined ? [] : (JSON.parse(`[${finished}]`) as (TaskAttempt | [number, TaskError | null, number, number])[]);
  const list = stored.map((a): TaskAttempt => (Array.isArray(a) ? { n: a[0], error: a[1], startedAt: a[2], finishedAt: a[3] } : a));
  if (status === 'running' || status === 'cancelling') {
    list.push({ n: Number(f.get('attempt')), error: null, startedAt: Number(f.get('startedAt')), finishedAt: null });
  }
  return list;
}

export function toTask(f: Map<string, string>): Task {
  const status = f.get('status') as TaskStatus;
  return {
    id: f.get('id') as string,
    tenant: f.get('tenant') as string,
    kind: f.get('kind') as TaskKind,
    sessionId: f.get('sessionId') ?? null,
    status,
    priority: Number(f.get('priority')),
    input: json(f.get('input')),
    result: json(f.get('result')),
    // A succeeded task keeps the error of an earlier attempt in its hash (lib.lua's
    // to_succeeded), and a task that is not running keeps its last lease: neither is shown.
    error: status === 'succeeded' ? null : (json(f.get('error')) as TaskError | null),
    attempt: Number(f.get('attempt')),
    attempts: attempts(f, status),
    maxAttempts: Number(f.get('maxAttempts')),
    timeoutMs: Number(f.get('timeoutMs')),
    idempotencyKey: f.get('idempotencyKey') ?? null,
    worker: f.get('worker') ?? null,
    leaseUntil: status === 'running' || status === 'cancelling' ? int(f.get('leaseUntil')) : null,
    createdAt: Number(f.get('createdAt')),
    updatedAt: Number(f.get('updatedAt')),
    runAt: Number(f.get('runAt')),
    startedAt: int(f.get('startedAt')),
    finishedAt: int(f.get('finishedAt')),
  };
}

export function toClaimedTask(f: Map<string, string>): ClaimedTask {
  return { ...toTask(f), fence: Number(f.get('fence')) };
}

/** What a claim returns of each task, in order (lib.lua's CLAIM_FIELDS), then its id,
 * error, attempts and the time of the claim. The claim wrote the rest: status, worker, lease
 * and start. */
const CLAIM_FIELDS = [
  'status', 'fence', 'attempt', 'evseq', 'tenant', 'kind', 'sessionId', 'priority', 'input',
  'maxAttempts', 'timeoutMs', 'idempotencyKey', 'createdAt', 'runAt', 'id', 'error', 'attempts',
] as const;

export function fromClaim(values: (string | null)[], worker: string, leaseMs: number): ClaimedTask {
  const f = new Map<string, string>();
  CLAIM_FIELDS.forEach((name, i) => {
    const v = values[i];
    if (v !== null && v !== undefined) f.set(name, v);
  });
  const now = values[CLAIM_FIELDS.length] as string;
  f.set('status', 'running');
  f.set('worker', worker);
  f.set('startedAt', now);
  f.set('updatedAt', now);
  f.set('leaseUntil', String(Number(now) + leaseMs));
  return toClaimedTask(f);
}

/** JSON text for a payload; undefined (a function returning nothing) is stored as null. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

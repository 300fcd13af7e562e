// Checks every backend applies the same way before touching its data, so a bad request
// fails with INVALID_ARGUMENT whatever the backend.
import { StoreError } from './errors.ts';
import type { ClaimRequest, EnqueueRequest, ListOptions, TaskKind } from './types.ts';

function fail(message: string): never {
  throw new StoreError('INVALID_ARGUMENT', message);
}

function nonEmpty(value: unknown, name: string): void {
  if (typeof value !== 'string' || value.length === 0) fail(`${name} must be a non-empty string`);
}

function integer(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    fail(max === Number.MAX_SAFE_INTEGER ? `${name} must be an integer >= ${min}` : `${name} must be an integer in ${min}..${max}`);
  }
}

/** Priorities every backend can order by (a Redis sorted-set score holds priority and arrival). */
export const PRIORITY_MIN = -1000;
export const PRIORITY_MAX = 1000;

export function validateEnqueue(req: EnqueueRequest): { priority: number; kind: TaskKind } {
  nonEmpty(req.tenant, 'tenant');
  const priority = req.priority ?? 0;
  integer(priority, 'priority', PRIORITY_MIN, PRIORITY_MAX);
  integer(req.maxAttempts, 'maxAttempts', 1);
  integer(req.timeoutMs, 'timeoutMs', 1);
  if (req.idempotencyKey !== undefined) nonEmpty(req.idempotencyKey, 'idempotencyKey');
  if (req.requestHash !== undefined) nonEmpty(req.requestHash, 'requestHash');
  if (req.sessionId !== undefined) nonEmpty(req.sessionId, 'sessionId');
  const kind = req.kind ?? 'task';
  if (kind !== 'task' && kind !== 'turn') fail(`kind must be 'task' or 'turn'`);
  if (kind === 'turn' && req.sessionId === undefined) fail('a turn needs a sessionId');
  return { priority, kind };
}

export function validateClaim(req: ClaimRequest): void {
  nonEmpty(req.worker, 'worker');
  integer(req.n, 'n', 0);
  integer(req.leaseMs, 'leaseMs', 1);
}

export function validateLease(leaseMs: number): void {
  integer(leaseMs, 'leaseMs', 1);
}

export function validateList(opts: ListOptions): void {
  integer(opts.limit, 'limit', 1);
}

export function validateBacklogLimit(limit: number): void {
  integer(limit, 'limit', 1);
}

export function validateMessages(messages: unknown[]): void {
  if (!Array.isArray(messages)) fail('messages must be an array');
}

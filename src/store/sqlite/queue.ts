// The queue: enqueue (idempotent, capped), claim (priority then FIFO, one turn per session,
// under a lease), the reaper for expired leases, reads and stats.
import { StoreError } from '../errors.ts';
import { newTaskId } from '../ids.ts';
import type { ClaimedTask, ClaimRequest, EnqueueRequest, HeldTask, ListOptions, StoreStats, Task, TenantBacklog } from '../types.ts';
import { validateBacklogLimit, validateClaim, validateEnqueue, validateList } from '../validate.ts';
import { ACTIVE, fromJson, toClaimedTasks, toJson, toTaskOf, toTasks, type Ctx, type TaskRow } from './context.ts';
import { toCancelled, toDead, toQueued, toRunning } from './transitions.ts';

export function enqueue(ctx: Ctx, req: EnqueueRequest): { task: Task; created: boolean } {
  const { priority, kind } = validateEnqueue(req);
  const now = ctx.clock();
  return ctx.db.write(() => {
    if (req.idempotencyKey !== undefined) {
      const existing = ctx.db.get<TaskRow>('SELECT * FROM tasks WHERE tenant = :tenant AND idempotency_key = :key', {
        tenant: req.tenant, key: req.idempotencyKey,
      });
      if (existing) {
        if (req.requestHash !== undefined && existing.request_hash !== null && existing.request_hash !== req.requestHash) {
          throw new StoreError('IDEMPOTENCY_MISMATCH', `idempotency key ${JSON.stringify(req.idempotencyKey)} was first used for another request (task ${existing.id})`);
        }
        return { task: toTaskOf(ctx.db, existing), created: false };
      }
    }
    const queued = (ctx.db.get<{ n: number | null }>(`SELECT SUM(n) AS n FROM task_counts WHERE status = 'queued'`)?.n ?? 0) + ctx.db.counts.changeOf('queued');
    if (queued >= ctx.opts.queueLimit) {
      throw new StoreError('QUEUE_FULL', `queue full: ${queued} tasks queued (store.queue_limit = ${ctx.opts.queueLimit})`);
    }
    const id = newTaskId(now);
    const input = toJson(req.input);
    const sessionId = req.sessionId ?? null;
    const idempotencyKey = req.idempotencyKey ?? null;
    ctx.db.run(
      `INSERT INTO tasks (id, tenant, kind, session_id, status, priority, input, max_attempts, timeout_ms,
         idempotency_key, request_hash, created_at, updated_at, run_at)
       VALUES (:id, :tenant, :kind, :sessionId, 'queued', :priority, :input, :maxAttempts, :timeoutMs,
         :idempotencyKey, :requestHash, :now, :now, :now)`,
      {
        id, tenant: req.tenant, kind, sessionId, priority,
        input, maxAttempts: req.maxAttempts, timeoutMs: req.timeoutMs,
        idempotencyKey, requestHash: req.idempotencyKey !== undefined ? (req.requestHash ?? null) : null, now,
      },
    );
    ctx.db.counts.move(req.tenant, priority, null, 'queued');
    // The task is the row just written, so it is not read back (RETURNING * was a quarter of an
    // enqueue, inside the write lock); the columns left to their defaults start at 0 or null.
    // Conformance compares it with what get() reads.
    const task: Task = {
      id, tenant: req.tenant, kind, sessionId, status: 'queued', priority, input: fromJson(input), result: null, error: null,
      attempt: 0, attempts: [], maxAttempts: req.maxAttempts, timeoutMs: req.timeoutMs, idempotencyKey, worker: null, leaseUntil: null,
      createdAt: now, updatedAt: now, runAt: now, startedAt: null, finishedAt: null,
    };
    return { task, created: true };
  });
}

// A turn may run only when no other turn of its session is running and no earlier one is
// still queued: turns run one at a time, in the order they were sent. The index is named because
// with statistics (ANALYZE) the planner would rather search run_at and sort every queued task.
// Exported for the test of its plan.
export const CLAIMABLE = `
  SELECT t.id FROM tasks t INDEXED BY tasks_in_claim_order
  WHERE t.status = 'queued' AND t.run_at <= :now
    AND (t.session_id IS NULL OR NOT EXISTS (
      SELECT 1 FROM tasks o
      WHERE o.tenant = t.tenant AND o.session_id = t.session_id AND o.seq <> t.seq
        AND (o.status IN ('running', 'cancelling') OR (o.status = 'queued' AND o.seq < t.seq))))
  ORDER BY t.priority DESC, t.seq
  LIMIT :n`;

export function claim(ctx: Ctx, req: ClaimRequest): ClaimedTask[] {
  validateClaim(req);
  if (req.n === 0) return [];
  const now = ctx.clock();
  return ctx.db.write(() => {
    reapInside(ctx, now);
    const rows = toRunning(ctx, now, CLAIMABLE, { n: req.n }, req.worker, now + req.leaseMs);
    return toClaimedTasks(ctx.db, rows);
  });
}

export function reapExpired(ctx: Ctx, now: number): number {
  return ctx.db.write(() => reapInside(ctx, now));
}

// Every claim reaps first. Left to itself, SQLite's planner read this through an index by status:
// every running task's row, each claim (a tenth of a busy store thread). The lease index holds
// only running tasks, in lease order, so the usual answer (none expired) costs one probe.
function reapInside(ctx: Ctx, now: number): number {
  const expired = ctx.db.all<{ id: string; status: string; attempt: number; max_attempts: number }>(
    `SELECT id, status, attempt, max_attempts FROM tasks INDEXED BY tasks_by_lease WHERE ${ACTIVE} AND lease_until < :now`,
    { now },
  );
  for (const task of expired) {
    const error = { code: 'LEASE_EXPIRED', message: `attempt ${task.attempt} stopped renewing its lease` };
    if (task.status === 'cancelling') toCancelled(ctx, now, task.id, 'cancelling');
    else if (task.attempt < task.max_attempts) toQueued(ctx, now, task.id, { runAt: now, error, countAttempt: true });
    else toDead(ctx, now, task.id, error);
  }
  return expired.length;
}

/** Through the index of running tasks: no index by worker is kept for this rare read. */
export function heldBy(ctx: Ctx, worker: string): HeldTask[] {
  return ctx.db.all<HeldTask>(`SELECT id, fence FROM tasks INDEXED BY tasks_by_lease WHERE ${ACTIVE} AND worker = :worker`, { worker });
}

export function get(ctx: Ctx, tenant: string, id: string): Task | null {
  const row = ctx.db.get<TaskRow>('SELECT * FROM tasks WHERE id = :id AND tenant = :tenant', { id, tenant });
  return row ? toTaskOf(ctx.db, row) : null;
}

export function list(ctx: Ctx, tenant: string, opts: ListOptions): Task[] {
  validateList(opts);
  const where = ['tenant = :tenant'];
  if (opts.status !== undefined) where.push('status = :status');
  if (opts.before !== undefined) where.push('id < :before');
  const rows = ctx.db.all<TaskRow>(`SELECT * FROM tasks WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT :limit`, {
    tenant, limit: opts.limit,
    ...(opts.status !== undefined && { status: opts.status }),
    ...(opts.before !== undefined && { before: opts.before }),
  });
  return toTasks(ctx.db, rows);
}

// Reads counters and the few delayed tasks, never the whole queue: the autoscaler asks often.
export function stats(ctx: Ctx): StoreStats {
  const now = ctx.clock();
  const counts = ctx.db.all<{ status: string; priority: number; n: number }>('SELECT status, priority, n FROM task_counts WHERE n > 0');
  const delayedByPriority = ctx.db.all<{ priority: number; n: number }>(
    `SELECT priority, COUNT(*) AS n FROM tasks INDEXED BY tasks_by_run_at
     WHERE status = 'queued' AND run_at > :now GROUP BY priority`,
    { now },
  );
  const oldest = ctx.db.get<{ runAt: number | null }>(
    `SELECT MIN(run_at) AS runAt FROM tasks INDEXED BY tasks_by_run_at WHERE status = 'queued'`,
  )?.runAt;
  const result: StoreStats = { depthByPriority: {}, queued: 0, delayed: 0, oldestWaitMs: 0, running: 0, dead: 0 };
  for (const { status, priority, n } of counts) {
    if (status === 'queued') {
      result.queued += n;
      result.depthByPriority[priority] = n;
    } else if (status === 'running' || status === 'cancelling') result.running += n;
    else if (status === 'dead') result.dead += n;
    else if (status === 'succeeded') result.succeeded = (result.succeeded ?? 0) + n;
  }
  for (const { priority, n } of delayedByPriority) {
    result.delayed += n;
    const ready = (result.depthByPriority[priority] ?? 0) - n;
    if (ready > 0) result.depthByPriority[priority] = ready;
    else delete result.depthByPriority[priority];
  }
  // The earliest run_at is the oldest ready task's, unless even it is still delayed.
  if (oldest != null && oldest <= now) result.oldestWaitMs = now - oldest;
  return result;
}

// Reads the counters of tenant_counts (a few rows per tenant), never the queue's rows.
export function backlogByTenant(ctx: Ctx, limit: number): TenantBacklog[] {
  validateBacklogLimit(limit);
  return ctx.db.all<TenantBacklog>(
    `SELECT tenant, SUM(CASE status WHEN 'queued' THEN n ELSE 0 END) AS queued, SUM(CASE status WHEN 'queued' THEN 0 ELSE n END) AS running
     FROM tenant_counts WHERE status IN ('queued', 'running', 'cancelling') AND n > 0
     GROUP BY tenant ORDER BY queued DESC, running DESC, tenant LIMIT :limit`,
    { limit },
  ).map(({ tenant, queued, running }) => ({ tenant, queued, running }));
}

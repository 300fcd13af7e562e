// Every Store operation that writes, by name, as functions of the context: the in-thread store
// calls them directly, the store thread (thread.ts) calls them by the name a message carries.
// Those that take the time as an argument read ctx.clock when it is not given.
import type { ClaimedTask, CleanupResult, ClaimRequest, EnqueueRequest, FailOptions, TaskError } from '../types.ts';
import type { Ctx } from './context.ts';
import { publish } from './events.ts';
import { cancel, complete, fail, release, renew } from './lifecycle.ts';
import { rateLimitTake, removeFullBuckets } from './limits.ts';
import { claim, enqueue, reapExpired } from './queue.ts';
import { removeExpiredSessions, sessionAppend, sessionDelete } from './sessions.ts';
import { toolClaim, toolPut } from './tools.ts';
import type { RateLimit, SessionWriter } from '../types.ts';

// Finished tasks removed per transaction, so cleanup never holds the write lock for long.
const CLEANUP_BATCH = 500;

export const WRITES = {
  enqueue: (ctx: Ctx, req: EnqueueRequest) => enqueue(ctx, req),
  claim: (ctx: Ctx, req: ClaimRequest) => claim(ctx, req),
  renew: (ctx: Ctx, taskId: string, fence: number, leaseMs: number) => renew(ctx, taskId, fence, leaseMs),
  complete: (ctx: Ctx, taskId: string, fence: number, result: unknown) => complete(ctx, taskId, fence, result),
  completeAndClaim: (ctx: Ctx, taskId: string, fence: number, result: unknown, next: ClaimRequest) => completeAndClaim(ctx, taskId, fence, result, next),
  fail: (ctx: Ctx, taskId: string, fence: number, error: TaskError, opts: FailOptions) => fail(ctx, taskId, fence, error, opts),
  release: (ctx: Ctx, taskId: string, fence: number) => release(ctx, taskId, fence),
  cancel: (ctx: Ctx, tenant: string, id: string) => cancel(ctx, tenant, id),
  reapExpired: (ctx: Ctx, now?: number) => reapExpired(ctx, now ?? ctx.clock()),
  publish: (ctx: Ctx, taskId: string, fence: number, event: unknown) => publish(ctx, taskId, fence, event),
  sessionAppend: (ctx: Ctx, tenant: string, id: string, messages: unknown[], writer?: SessionWriter) => sessionAppend(ctx, tenant, id, messages, writer),
  sessionDelete: (ctx: Ctx, tenant: string, id: string) => sessionDelete(ctx, tenant, id),
  rateLimitTake: (ctx: Ctx, key: string, limit: RateLimit, now?: number, count?: number) => rateLimitTake(ctx, key, limit, now ?? ctx.clock(), count),
  toolClaim: (ctx: Ctx, taskId: string, key: string, owner: string, leaseMs: number) => toolClaim(ctx, taskId, key, owner, leaseMs),
  toolPut: (ctx: Ctx, taskId: string, key: string, owner: string, result: unknown) => toolPut(ctx, taskId, key, owner, result),
  cleanup: (ctx: Ctx, now?: number) => cleanup(ctx, now ?? ctx.clock()),
};

export type WriteName = keyof typeof WRITES;

/** One write transaction: the result written, then the slot's next claim (one commit, not two). */
function completeAndClaim(ctx: Ctx, taskId: string, fence: number, result: unknown, next: ClaimRequest): { completed: boolean; claimed: ClaimedTask[] } {
  return ctx.db.write(() => {
    const completed = complete(ctx, taskId, fence, result);
    return { completed, claimed: claim(ctx, next) };
  });
}

function cleanup(ctx: Ctx, now: number): CleanupResult {
  const cutoff = now - ctx.opts.resultTtlMs;
  let tasks = 0;
  for (;;) {
    const removed = ctx.db.write(() => {
      const ids = ctx.db.all<{ id: string; tenant: string; priority: number; status: string }>(
        'SELECT id, tenant, priority, status FROM tasks WHERE finished_at IS NOT NULL AND finished_at < :cutoff LIMIT :limit',
        { cutoff, limit: CLEANUP_BATCH },
      );
      for (const { id, tenant, priority, status } of ids) {
        ctx.db.run('DELETE FROM events WHERE task_id = :id', { id });
        ctx.db.run('DELETE FROM tool_results WHERE task_id = :id', { id });
        ctx.db.run('DELETE FROM attempts WHERE task_id = :id', { id });
        ctx.db.run('DELETE FROM tasks WHERE id = :id', { id });
        ctx.db.counts.move(tenant, priority, status, null);
      }
      return ids.length;
    });
    tasks += removed;
    if (removed < CLEANUP_BATCH) break;
  }
  const sessions = ctx.db.write(() => {
    removeFullBuckets(ctx, now);
    return removeExpiredSessions(ctx, now);
  });
  return { tasks, sessions };
}

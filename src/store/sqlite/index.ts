// The embedded backend: one SQLite file (WAL) that every child of one VM opens at once.
// Each operation that reads then writes runs in its own BEGIN IMMEDIATE transaction, so
// the processes take turns on the write lock (waiting up to busyTimeoutMs) and never act
// on the same snapshot twice.
import type { CleanupResult, Store, StoreOptions } from '../types.ts';
import { CancelWatch } from './cancels.ts';
import type { Ctx } from './context.ts';
import { openDb } from './open.ts';
import { EventHub, readEvents } from './event-hub.ts';
import { publish } from './events.ts';
import { cancel, complete, fail, release, renew } from './lifecycle.ts';
import { rateLimitTake, removeFullBuckets } from './limits.ts';
import { backlogByTenant, claim, enqueue, get, list, reapExpired, stats } from './queue.ts';
import { removeExpiredSessions, sessionAppend, sessionDelete, sessionGet } from './sessions.ts';
import { toolClaim, toolGet, toolPut } from './tools.ts';

export interface SqliteStoreOptions extends StoreOptions {
  path: string;
  /** How long a write waits for another process's transaction. */
  busyTimeoutMs?: number;
  /** How often subscribers (and cancel watchers) look for events written by other processes. */
  pollMs?: number;
  /** Refuse a file that SQLite's quick_check finds damaged (the supervisor's open). */
  checkIntegrity?: boolean;
  /** The file is gone but its -wal is left: delete the log and start empty instead of refusing. */
  discardOrphanedWal?: boolean;
  warn?: (message: string) => void;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_POLL_MS = 50;
const DEFAULT_EVENTS_LIMIT = 1000;
// Finished tasks removed per transaction, so cleanup never holds the write lock for long.
const CLEANUP_BATCH = 500;

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const db = openDb(options.path, { ...options, busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
  const ctx: Ctx = {
    db,
    clock: options.clock ?? Date.now,
    opts: { queueLimit: options.queueLimit, resultTtlMs: options.resultTtlMs, sessionTtlMs: options.sessionTtlMs },
    hub: new EventHub(db, options.pollMs ?? DEFAULT_POLL_MS),
  };
  const cancels = new CancelWatch(db, options.pollMs ?? DEFAULT_POLL_MS);
  return {
    enqueue: async (req) => enqueue(ctx, req),
    claim: async (req) => claim(ctx, req),
    renew: async (taskId, fence, leaseMs) => renew(ctx, taskId, fence, leaseMs),
    complete: async (taskId, fence, result) => complete(ctx, taskId, fence, result),
    fail: async (taskId, fence, error, opts) => fail(ctx, taskId, fence, error, opts),
    release: async (taskId, fence) => release(ctx, taskId, fence),
    cancel: async (tenant, id) => cancel(ctx, tenant, id),
    onCancel: (listener) => cancels.watch(listener),
    reapExpired: async (now) => reapExpired(ctx, now ?? ctx.clock()),
    get: async (tenant, id) => get(ctx, tenant, id),
    list: async (tenant, opts) => list(ctx, tenant, opts),
    publish: async (taskId, fence, event) => publish(ctx, taskId, fence, event),
    events: async (taskId, afterSeq, limit) => readEvents(db, taskId, afterSeq, limit ?? DEFAULT_EVENTS_LIMIT),
    subscribe: (taskId, afterSeq, onEvent, onEnd) => ctx.hub.subscribe(taskId, afterSeq, onEvent, onEnd),
    sessionGet: async (tenant, id) => sessionGet(ctx, tenant, id),
    sessionAppend: async (tenant, id, messages, writer) => sessionAppend(ctx, tenant, id, messages, writer),
    sessionDelete: async (tenant, id) => sessionDelete(ctx, tenant, id),
    rateLimitTake: async (key, limit, now) => rateLimitTake(ctx, key, limit, now ?? ctx.clock()),
    toolClaim: async (taskId, key, owner, leaseMs) => toolClaim(ctx, taskId, key, owner, leaseMs),
    toolPut: async (taskId, key, owner, result) => toolPut(ctx, taskId, key, owner, result),
    toolGet: async (taskId, key) => toolGet(ctx, taskId, key),
    stats: async () => stats(ctx),
    backlogByTenant: async (limit) => backlogByTenant(ctx, limit),
    cleanup: async (now) => cleanup(ctx, now ?? ctx.clock()),
    fault: () => db.fault,
    close: async () => {
      ctx.hub.close();
      cancels.close();
      db.close();
    },
  };
}

function cleanup(ctx: Ctx, now: number): CleanupResult {
  const cutoff = now - ctx.opts.resultTtlMs;
  let tasks = 0;
  for (;;) {
    const removed = ctx.db.write(() => {
      const ids = ctx.db.all<{ id: string }>(
        'SELECT id FROM tasks WHERE finished_at IS NOT NULL AND finished_at < :cutoff LIMIT :limit',
        { cutoff, limit: CLEANUP_BATCH },
      );
      for (const { id } of ids) {
        ctx.db.run('DELETE FROM events WHERE task_id = :id', { id });
        ctx.db.run('DELETE FROM tool_results WHERE task_id = :id', { id });
        ctx.db.run('DELETE FROM attempts WHERE task_id = :id', { id });
        ctx.db.run('DELETE FROM tasks WHERE id = :id', { id });
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

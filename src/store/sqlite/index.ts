// The embedded backend: one SQLite file (WAL) that every child of one VM opens at once.
// Each operation that reads then writes runs in its own BEGIN IMMEDIATE transaction, so
// the processes take turns on the write lock (waiting up to busyTimeoutMs) and never act
// on the same snapshot twice. This is the in-thread store (the supervisor's); children write
// through a store thread that commits a batch of operations at once (threaded.ts).
import type { Store, StoreOptions } from '../types.ts';
import { CancelWatch } from './cancels.ts';
import type { Ctx } from './context.ts';
import { openDb } from './open.ts';
import { EventHub, readEvents } from './event-hub.ts';
import { backlogByTenant, get, heldBy, list, stats } from './queue.ts';
import { sessionGet } from './sessions.ts';
import { toolGet } from './tools.ts';
import { WRITES } from './writes.ts';

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
  /** The store thread's module (threaded.ts); default: thread.ts beside it, in the source tree.
   * The single binary's children pass the copy they extracted (src/worker-pool/files.ts). */
  threadFile?: string;
  /** How much the store thread lowers its CPU priority below the event loop (a nice increment; default 0). */
  threadNice?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
export const DEFAULT_POLL_MS = 50;
export const DEFAULT_EVENTS_LIMIT = 1000;

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const db = openDb(options.path, { ...options, busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
  const hub = new EventHub(db, options.pollMs ?? DEFAULT_POLL_MS);
  const ctx: Ctx = {
    db,
    clock: options.clock ?? Date.now,
    opts: { queueLimit: options.queueLimit, resultTtlMs: options.resultTtlMs, sessionTtlMs: options.sessionTtlMs },
    hub,
  };
  const w = WRITES;
  const cancels = new CancelWatch(db, options.pollMs ?? DEFAULT_POLL_MS);
  return {
    enqueue: async (req) => w.enqueue(ctx, req),
    claim: async (req) => w.claim(ctx, req),
    renew: async (taskId, fence, leaseMs) => w.renew(ctx, taskId, fence, leaseMs),
    complete: async (taskId, fence, result) => w.complete(ctx, taskId, fence, result),
    completeAndClaim: async (taskId, fence, result, next) => w.completeAndClaim(ctx, taskId, fence, result, next),
    fail: async (taskId, fence, error, opts) => w.fail(ctx, taskId, fence, error, opts),
    release: async (taskId, fence) => w.release(ctx, taskId, fence),
    heldBy: async (worker) => heldBy(ctx, worker),
    cancel: async (tenant, id) => w.cancel(ctx, tenant, id),
    onCancel: (listener) => cancels.watch(listener),
    reapExpired: async (now) => w.reapExpired(ctx, now ?? ctx.clock()),
    get: async (tenant, id) => get(ctx, tenant, id),
    list: async (tenant, opts) => list(ctx, tenant, opts),
    publish: async (taskId, fence, event) => w.publish(ctx, taskId, fence, event),
    events: async (taskId, afterSeq, limit) => readEvents(db, taskId, afterSeq, limit ?? DEFAULT_EVENTS_LIMIT),
    subscribe: (taskId, afterSeq, onEvent, onEnd) => hub.subscribe(taskId, afterSeq, onEvent, onEnd),
    sessionGet: async (tenant, id) => sessionGet(ctx, tenant, id),
    sessionAppend: async (tenant, id, messages, writer) => w.sessionAppend(ctx, tenant, id, messages, writer),
    sessionDelete: async (tenant, id) => w.sessionDelete(ctx, tenant, id),
    rateLimitTake: async (key, limit, now, count) => w.rateLimitTake(ctx, key, limit, now ?? ctx.clock(), count),
    toolClaim: async (taskId, key, owner, leaseMs) => w.toolClaim(ctx, taskId, key, owner, leaseMs),
    toolPut: async (taskId, key, owner, result) => w.toolPut(ctx, taskId, key, owner, result),
    toolGet: async (taskId, key) => toolGet(ctx, taskId, key),
    stats: async () => stats(ctx),
    backlogByTenant: async (limit) => backlogByTenant(ctx, limit),
    cleanup: async (now) => w.cleanup(ctx, now ?? ctx.clock()),
    fault: () => db.fault,
    close: async () => {
      hub.close();
      cancels.close();
      db.close();
    },
  };
}

// The SQLite store as a child serves it: writes go over a MessagePort to the store thread
// (thread.ts), which batches them into one commit per turn and answers after the commit, so
// the child's event loop never waits on the write lock. Reads (get, list, events, stats,
// sessions, tools), subscribers and cancel watchers stay on this thread's own connection: in
// WAL mode a read does not wait for writers, and a read after an answered write sees it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isSea } from 'node:sea';
import { Worker } from 'node:worker_threads';
import { StoreError } from '../errors.ts';
import type { Store } from '../types.ts';
import { TurnBatch } from '../turn-batch.ts';
import { CancelWatch } from './cancels.ts';
import type { Ctx } from './context.ts';
import { EventHub, readEvents } from './event-hub.ts';
import { DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_EVENTS_LIMIT, DEFAULT_POLL_MS, type SqliteStoreOptions } from './index.ts';
import { openDb } from './open.ts';
import { backlogByTenant, get, heldBy, list, stats } from './queue.ts';
import { sessionGet } from './sessions.ts';
import { toolGet } from './tools.ts';
import { fromWire, type Call, type FromThread, type ThreadInit, type ToThread } from './wire.ts';
import type { WriteName } from './writes.ts';

/** The thread's module: the file given, else thread.ts beside this one in the source tree. The
 * single binary has no source tree (and runs no file from beside itself): its children pass the
 * copy they extracted (src/worker-pool/files.ts), and anything else it opens writes in-thread. */
function threadModule(threadFile: string | undefined): string | null {
  if (threadFile !== undefined) return threadFile;
  if (isSea()) return null;
  const path = join(import.meta.dirname, 'thread.ts');
  return existsSync(path) ? path : null;
}

export function storeThreadAvailable(threadFile?: string): boolean {
  return threadModule(threadFile) !== null;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export async function openThreadedSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  // Opened here first: the checks at open and the migration report their errors to the caller.
  const db = openDb(options.path, { ...options, busyTimeoutMs });
  const clock = options.clock ?? Date.now;
  // The time an operation runs on: an injected clock's (tests) as the caller read it; else the
  // thread reads its own when the operation runs. A call can wait in the thread for seconds
  // behind the write lock: a lease granted then must run from then, and a rate-limit bucket
  // other calls moved on meanwhile must not be judged at the time the call was sent (that
  // refused submissions with 429 under load, bench:agents).
  const callerNow = options.clock ? options.clock : () => undefined;
  const opts = { queueLimit: options.queueLimit, resultTtlMs: options.resultTtlMs, sessionTtlMs: options.sessionTtlMs };
  const init: ThreadInit = { path: options.path, busyTimeoutMs, opts, nice: options.threadNice ?? 0 };
  const thread = threadModule(options.threadFile);
  if (!thread) throw new StoreError('STORE_OPEN_FAILED', 'the SQLite store thread\'s module is not there (the single binary opens the store in-thread where no file is given)');
  const worker = new Worker(thread, { workerData: init });
  const hub = new EventHub(db, pollMs, (taskId, on) => {
    if (!closed && !lost) worker.postMessage({ kind: 'watch', taskId, on } satisfies ToThread);
  });
  const ctx: Ctx = { db, clock, opts, hub };
  const cancels = new CancelWatch(db, pollMs);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const calls = new Map<number, Pending>();
  let nextId = 0;
  let threadFault: string | null = null;
  let lost: StoreError | null = null;
  let closed = false;

  const failAll = (err: StoreError) => {
    for (const p of calls.values()) p.reject(err);
    calls.clear();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the store thread exited with ${code} while opening`)));
    });
  } catch (err) {
    db.close();
    await worker.terminate();
    throw err instanceof StoreError ? err : new StoreError('STORE_OPEN_FAILED', `cannot start the store thread for ${options.path}: ${(err as Error).message}`, { cause: err });
  }
  worker.removeAllListeners('message').removeAllListeners('error');
  worker.on('message', (m: FromThread) => {
    if (m.kind === 'answers') {
      for (const e of m.events) hub.dispatch(e.taskId, e.event);
      threadFault = m.fault;
      for (const a of m.answers) {
        const p = calls.get(a.id);
        calls.delete(a.id);
        if (a.ok) p?.resolve(a.value);
        else p?.reject(fromWire(a.error));
      }
      if (calls.size === 0) worker.unref();
    }
  });
  worker.on('error', (err) => {
    lost = new StoreError('STORE_FAILED', `store ${options.path}: its thread failed: ${err.message}`, { cause: err });
    failAll(lost);
  });
  worker.on('exit', () => {
    if (!closed) lost ??= new StoreError('STORE_FAILED', `store ${options.path}: its thread exited`);
    failAll(lost ?? new StoreError('STORE_CLOSED', 'the store is closed'));
  });
  // Only a call waiting for its answer keeps the process alive, as with the in-thread store.
  worker.unref();

  // The calls of one turn go in one message, sent when the turn's callbacks have run.
  const outbox = new TurnBatch<Call>((calls) => {
    if (!lost) worker.postMessage({ kind: 'calls', calls } satisfies ToThread);
  });
  const call = <T>(name: WriteName, ...args: unknown[]): Promise<T> => {
    if (closed) return Promise.reject(new StoreError('STORE_CLOSED', 'the store is closed'));
    if (lost) return Promise.reject(lost);
    return new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      calls.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (calls.size === 1) worker.ref();
      const now = callerNow();
      outbox.add({ id, name, args, ...(now !== undefined && { now }) });
    });
  };

  return {
    enqueue: (req) => call('enqueue', req),
    claim: (req) => call('claim', req),
    renew: (taskId, fence, leaseMs) => call('renew', taskId, fence, leaseMs),
    complete: (taskId, fence, result) => call('complete', taskId, fence, result),
    completeAndClaim: (taskId, fence, result, next) => call('completeAndClaim', taskId, fence, result, next),
    fail: (taskId, fence, error, opts) => call('fail', taskId, fence, error, opts),
    release: (taskId, fence) => call('release', taskId, fence),
    heldBy: async (worker) => heldBy(ctx, worker),
    cancel: (tenant, id) => call('cancel', tenant, id),
    onCancel: (listener) => cancels.watch(listener),
    reapExpired: (now) => call('reapExpired', now ?? callerNow()),
    get: async (tenant, id) => get(ctx, tenant, id),
    list: async (tenant, opts) => list(ctx, tenant, opts),
    publish: (taskId, fence, event) => call('publish', taskId, fence, event),
    events: async (taskId, afterSeq, limit) => readEvents(db, taskId, afterSeq, limit ?? DEFAULT_EVENTS_LIMIT),
    subscribe: (taskId, afterSeq, onEvent, onEnd) => hub.subscribe(taskId, afterSeq, onEvent, onEnd),
    sessionGet: async (tenant, id) => sessionGet(ctx, tenant, id),
    sessionAppend: (tenant, id, messages, writer) => call('sessionAppend', tenant, id, messages, writer),
    sessionDelete: (tenant, id) => call('sessionDelete', tenant, id),
    rateLimitTake: (key, limit, now, count) => call('rateLimitTake', key, limit, now ?? callerNow(), count),
    toolClaim: (taskId, key, owner, leaseMs) => call('toolClaim', taskId, key, owner, leaseMs),
    toolPut: (taskId, key, owner, result) => call('toolPut', taskId, key, owner, result),
    toolGet: async (taskId, key) => toolGet(ctx, taskId, key),
    stats: async () => stats(ctx),
    backlogByTenant: async (limit) => backlogByTenant(ctx, limit),
    cleanup: (now) => call('cleanup', now ?? callerNow()),
    fault: () => db.fault ?? threadFault ?? lost?.message ?? null,
    connectPort: (port) => {
      // A closed or lost store answers nothing: the port closes, and its caller fails its calls.
      if (closed || lost) port.close();
      else worker.postMessage({ kind: 'port', port } satisfies ToThread, [port]);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      // The thread answers what it holds, then closes its connection and ends.
      worker.ref();
      outbox.flushNow();
      worker.postMessage({ kind: 'close' } satisfies ToThread);
      await exited;
      hub.close();
      cancels.close();
      db.close();
    },
  };
}

// The store thread: owns the connection that writes, so a child's event loop never waits on
// SQLite's write lock (other children hold it in turns, up to busy_timeout). What arrives in
// one turn of this thread's loop is committed in one transaction, and a call that fails undoes
// only itself (commit()); every call is answered after the commit, so nothing answered can be
// lost to a crash. Fewer commits also means fewer turns on the lock.
import { parentPort, workerData } from 'node:worker_threads';
import { TurnBatch } from '../turn-batch.ts';
import type { Ctx } from './context.ts';
import { openDb } from './open.ts';
import { toWire, type Answer, type Call, type CommittedEvent, type WireError, type FromThread, type ThreadInit, type ToThread } from './wire.ts';
import { WRITES } from './writes.ts';

if (!parentPort) throw new Error('thread.ts runs as a worker thread of the SQLite store');
const port = parentPort;
const init = workerData as ThreadInit;
const send = (m: FromThread) => port.postMessage(m);

const db = openDb(init.path, { busyTimeoutMs: init.busyTimeoutMs });
let now = 0;
// The events of watched tasks committed by one flush, sent with its answers. Most tasks have no
// subscriber; sending every event cost the child's main thread a fifth of its time in copies.
const watched = new Set<string>();
let events: CommittedEvent[] = [];
const ctx: Ctx = {
  db,
  clock: () => now,
  opts: init.opts,
  hub: {
    wants: (taskId) => watched.has(taskId),
    dispatch: (taskId, event) => {
      events.push({ taskId, event });
    },
  },
};

// What arrives in one turn of this thread's loop is committed together.
const pending = new TurnBatch<Call>(flush);

port.on('message', (m: ToThread) => {
  if (m.kind === 'watch') {
    if (m.on) watched.add(m.taskId);
    else watched.delete(m.taskId);
    return;
  }
  if (m.kind === 'close') {
    // The calls that came before the close are answered first.
    pending.flushNow();
    finish();
    return;
  }
  for (const c of m.calls) pending.add(c);
});
send({ kind: 'ready' });

function flush(calls: Call[]): void {
  // Cleanup commits in slices of its own (writes.ts), so it does not join a batch.
  const batch = calls.filter((c) => c.name !== 'cleanup');
  const answers = batch.length > 0 ? commit(batch) : [];
  for (const c of calls) if (c.name === 'cleanup') answers.push(run(c, false));
  send({ kind: 'answers', answers, events, fault: db.fault });
  events = [];
}

/**
 * Commits a batch. Most batches fail nowhere, so the first try runs them without a savepoint per
 * call; only when a call throws is the batch rolled back and run again with one per call, so that
 * the failure undoes only its own call. A failure to take the lock or to commit is every call's
 * answer, as it is on the second try.
 */
function commit(batch: Call[]): Answer[] {
  let callFailed = false;
  try {
    return db.writeFlat(() =>
      batch.map((c): Answer => {
        try {
          return { id: c.id, ok: true, value: runOp(c) };
        } catch (err) {
          callFailed = true;
          throw err;
        }
      }));
  } catch (err) {
    if (!callFailed) return batch.map((c) => ({ id: c.id, ok: false, error: toWire(err) }));
  }
  let answers: Answer[] = [];
  try {
    db.write(() => {
      for (const c of batch) {
        const answer = run(c, true);
        answers.push(answer);
        // SQLite ends the whole transaction by itself on some errors (a full disk): then
        // nothing of the batch stands, and that error is every call's answer.
        if (!answer.ok && !db.inTransaction) throw new BatchLost(answer.error);
      }
    });
  } catch (err) {
    const error = err instanceof BatchLost ? err.error : toWire(err);
    answers = batch.map((c) => ({ id: c.id, ok: false, error }));
  }
  return answers;
}

function runOp(c: Call): unknown {
  now = c.now ?? Date.now();
  const op = WRITES[c.name] as (ctx: Ctx, ...args: unknown[]) => unknown;
  return op(ctx, ...c.args);
}

/** In a batch, the call runs in a savepoint of its own (even an operation that throws before it
 * writes anything leaves the batch as it was). */
function run(c: Call, inBatch: boolean): Answer {
  try {
    return { id: c.id, ok: true, value: inBatch ? db.write(() => runOp(c)) : runOp(c) };
  } catch (err) {
    return { id: c.id, ok: false, error: toWire(err) };
  }
}

class BatchLost extends Error {
  readonly error: WireError;

  constructor(error: WireError) {
    super(error.message);
    this.error = error;
  }
}

function finish(): void {
  db.close();
  port.close();
}

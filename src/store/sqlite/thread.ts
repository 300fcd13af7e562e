// The store thread: owns the connection that writes, so a child's event loop never waits on
// SQLite's write lock (other children hold it in turns, up to busy_timeout). What arrives in
// one turn of this thread's loop is committed in one transaction, and a call that fails undoes
// only itself (commit()); every call is answered after the commit, so nothing answered can be
// lost to a crash. Fewer commits also means fewer turns on the lock.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PORT_WRITES, type PortAnswer, type PortCall } from '../types.ts';
import { TurnBatch } from '../turn-batch.ts';
import type { Ctx } from './context.ts';
import { openDb } from './open.ts';
import { toWire, type Answer, type Call, type CommittedEvent, type WireError, type FromThread, type ThreadInit, type ToThread } from './wire.ts';
import { completeAll } from './lifecycle.ts';
import { publishAll } from './events.ts';
import { WRITES, type WriteName } from './writes.ts';
import { lowerThreadPriority } from '../../thread-priority.ts';

if (!parentPort) throw new Error('thread.ts runs as a worker thread of the SQLite store');
const port = parentPort;
const init = workerData as ThreadInit;
const send = (m: FromThread) => port.postMessage(m);
if (init.nice) lowerThreadPriority(init.nice);

const db = openDb(init.path, { busyTimeoutMs: init.busyTimeoutMs });
let now = 0;
// The events of watched tasks committed by one flush, sent with its answers. Most tasks have no
// subscriber; sending every event cost the child's main thread a fifth of its time in copies.
const watched = new Set<string>();
let events: CommittedEvent[] = [];
/** The fault last told to the store's own thread, which reports it (Store.fault). */
let sentFault: string | null = null;
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
  if (m.kind === 'port') {
    connect(m.port);
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

/** Ports other threads of the process write on (Store.connectPort), closed with the store. */
const ports = new Set<MessagePort>();

function connect(other: MessagePort): void {
  ports.add(other);
  other.on('close', () => ports.delete(other));
  other.on('message', (calls: PortCall[]) => {
    for (const c of calls) {
      // Only the writes a port is for: anything else is answered with an error, not run.
      if (PORT_WRITES.includes(c.name)) pending.add({ id: c.id, name: c.name, args: c.args, port: other });
      else other.postMessage([{ id: c.id, ok: false, error: { message: `${String(c.name)} cannot be called over a store port` } }] satisfies PortAnswer[]);
    }
  });
}
send({ kind: 'ready' });

function flush(calls: Call[]): void {
  // Cleanup commits in slices of its own (writes.ts), so it does not join a batch.
  const batch = calls.filter((c) => c.name !== 'cleanup');
  const cleanups = calls.filter((c) => c.name === 'cleanup');
  const answered = batch.length > 0 ? commit(batch) : [];
  for (const c of cleanups) answered.push(run(c, false));
  // Each answer goes back the way its call came: the caller's port, or the store's own.
  const answers: Answer[] = [];
  const byPort = new Map<MessagePort, Answer[]>();
  [...batch, ...cleanups].forEach((c, i) => {
    const a = answered[i]!;
    if (!c.port) answers.push(a);
    else if (byPort.has(c.port)) byPort.get(c.port)!.push(a);
    else byPort.set(c.port, [a]);
  });
  for (const [other, list] of byPort) other.postMessage(list);
  if (answers.length > 0 || events.length > 0 || db.fault !== sentFault) {
    send({ kind: 'answers', answers, events, fault: db.fault });
    sentFault = db.fault;
  }
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
    return db.writeFlat(() => {
      const answers: Answer[] = [];
      // The batch's completions go in together (completeAll), where the last of them stood:
      // whatever came before any of them still runs before it.
      const completions = batch.flatMap((c, i) => (c.name === 'complete' ? [i] : []));
      const together = completions.length > 1 ? completions.at(-1)! : -1;
      // Progress events wait to go in together (publishAll) until a call comes whose answer or
      // writes could differ for coming after them.
      let progress: number[] = [];
      const publishWaiting = () => {
        if (progress.length > 1) publishTogether(batch, progress, answers);
        else for (const i of progress) answers[i] = { id: batch[i]!.id, ok: true, value: runOp(batch[i]!) };
        progress = [];
      };
      try {
        batch.forEach((c, i) => {
          if (c.name === 'publish') {
            progress.push(i);
            return;
          }
          if (!LEAVES_TASKS_ALONE.has(c.name)) publishWaiting();
          if (c.name !== 'complete' || together < 0) answers[i] = { id: c.id, ok: true, value: runOp(c) };
          else if (i === together) completeTogether(batch, completions, answers);
        });
        publishWaiting();
      } catch (err) {
        callFailed = true;
        throw err;
      }
      return answers;
    });
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

/** The completions at `at` in the batch, in one completeAll. */
function completeTogether(batch: Call[], at: number[], answers: Answer[]): void {
  together(batch, at, answers, (calls) => completeAll(ctx, calls.map((c) => {
    const [taskId, fence, result] = c.args as [string, number, unknown];
    return { taskId, fence, result, now: c.now ?? Date.now() };
  })));
}

/** The progress events at `at` in the batch, in one publishAll. */
function publishTogether(batch: Call[], at: number[], answers: Answer[]): void {
  together(batch, at, answers, (calls) => publishAll(ctx, calls.map((c) => {
    const [taskId, fence, event] = c.args as [string, number, unknown];
    return { taskId, fence, event };
  })));
}

/** Runs the calls at `at` in the batch as one operation; each answer goes where its call stood. */
function together(batch: Call[], at: number[], answers: Answer[], all: (calls: Call[]) => unknown[]): void {
  const values = all(at.map((i) => batch[i]!));
  at.forEach((i, k) => {
    answers[i] = { id: batch[i]!.id, ok: true, value: values[k] };
  });
}

/** Calls that change no task's seq, status or fence and read no seq: the same before or after a progress event. */
const LEAVES_TASKS_ALONE: ReadonlySet<WriteName> = new Set<WriteName>(['toolClaim', 'toolPut', 'renew']);

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
  for (const other of ports) other.close();
  port.close();
}

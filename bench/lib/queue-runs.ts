// The two consumers bench/queue.ts and bench/queue-profile.ts time: drover's store (either
// backend) and BullMQ, each running `tasks` no-op tasks submitted with 64 in flight.
import { Queue, Worker } from 'bullmq';
import type { ClaimedTask, Store } from '../../src/store/types.ts';
import type { RedisServer } from '../../test/helpers/redis.ts';

const SUBMIT_IN_FLIGHT = 64;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls submit(i) for i < n with at most `inFlight` pending at once. */
export async function submitAll(n: number, inFlight: number, submit: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < n) await submit(next++);
  }));
}

/** `submitter` and `store` are two handles (two connections), as BullMQ's Queue and Worker
 * are. Each slot claims a task, "runs" it (a no-op) and writes its result; where the store
 * offers completeAndClaim, the result write also claims the slot's next task (BullMQ's
 * moveToFinished does the same). A slot that finds nothing blocks in waitForWork (Redis) or
 * polls every 1 ms (SQLite, which cannot block). */
export async function runDrover(submitter: Store, store: Store, concurrency: number, tasks: number): Promise<{ ms: number; emptyClaims: number }> {
  let done = 0;
  let emptyClaims = 0;
  let finished = 0;
  const started = performance.now();
  const producer = submitAll(tasks, SUBMIT_IN_FLIGHT, (i) => submitter.enqueue({ tenant: 'bench', input: i, maxAttempts: 1, timeoutMs: 60_000 }));
  const next = { worker: 'bench', n: 1, leaseMs: 60_000 };
  const finish = () => {
    if (++done === tasks) finished = performance.now();
  };
  const slot = async () => {
    let task: ClaimedTask | null = null;
    while (done < tasks) {
      if (!task) {
        [task = null] = await store.claim(next);
        if (!task) {
          emptyClaims++;
          if (store.waitForWork) await store.waitForWork(100);
          else await sleep(1);
          continue;
        }
      }
      if (store.completeAndClaim) {
        const r = await store.completeAndClaim(task.id, task.fence, null, next);
        finish();
        task = r.claimed[0] ?? null;
      } else {
        await store.complete(task.id, task.fence, null);
        finish();
        task = null;
      }
    }
  };
  await Promise.all([producer, ...Array.from({ length: concurrency }, slot)]);
  return { ms: finished - started, emptyClaims };
}

/** BullMQ's Queue and Worker in this process. `fillFirst`: the tasks are all added before the
 * worker starts, and the time runs from its start (the worker alone); otherwise from the first
 * add, the worker taking tasks as they come. */
export async function runBullmq(server: RedisServer, concurrency: number, round: number, tasks: number, opts: { fillFirst?: boolean } = {}): Promise<{ ms: number }> {
  const connection = { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null };
  const fillFirst = opts.fillFirst ?? false;
  const name = `bench-${fillFirst ? 'drain-' : ''}${round}-${concurrency}`;
  const queue = new Queue(name, { connection });
  const submit = () => submitAll(tasks, SUBMIT_IN_FLIGHT, (i) => queue.add('t', i));
  await queue.waitUntilReady();
  if (fillFirst) await submit();
  const worker = new Worker(name, async () => null, { connection, concurrency, autorun: !fillFirst });
  const allDone = completions(worker, tasks);
  await worker.waitUntilReady();
  const started = performance.now();
  if (fillFirst) void worker.run();
  else await submit();
  await allDone;
  const ms = performance.now() - started;
  await worker.close();
  await queue.close();
  return { ms };
}

/** Resolves once the worker has completed `tasks` jobs. */
function completions(worker: Worker, tasks: number): Promise<void> {
  let done = 0;
  return new Promise((resolve) => {
    worker.on('completed', () => {
      if (++done === tasks) resolve();
    });
  });
}

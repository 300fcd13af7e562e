// The executor end to end: a real supervisor with two children, each with its executor
// threads, pulling from the SQLite file this test writes tasks into (the store is the queue,
// whichever process enqueues). The fixture agent writes what it saw to files.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type EnqueueRequest, type Store, type Task } from '../../../src/store/index.ts';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { threadsOf } from '../../helpers/proc.ts';
import type { FixtureInput } from '../../unit/worker-pool/fixtures/agent.ts';

const FIXTURE = join(import.meta.dirname, '../../unit/worker-pool/fixtures/agent.ts');
const TENANT = 'acme';
let d: DroverProcess;
let store: Store;
let files: string;

beforeAll(async () => {
  const stateDir = tempDir('drover-state-');
  files = tempDir('drover-exec-');
  d = await startDrover({
    args: ['start', '--port', '0', '--children', '2'],
    env: {
      DROVER_SUPERVISOR__STATE_DIR: stateDir,
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '1',
      DROVER_SUPERVISOR__RESTART_DELAY: '0.1',
      DROVER_EXECUTOR__AGENT: FIXTURE,
      DROVER_EXECUTOR__THREADS: '2',
      DROVER_EXECUTOR__TASKS_PER_THREAD: '100',
      DROVER_EXECUTOR__LEASE: '1',
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_EXECUTOR__RETRY_DELAY: '0.05',
      DROVER_EXECUTOR__RETRY_DELAY_MAX: '0.2',
    },
  });
  store = await openStore({ backend: 'sqlite', path: '', queue_limit: 100_000, result_ttl: 3600, session_ttl: 3600, cleanup_interval: 60, stateDir });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await store?.close();
});

let n = 0;
function file(name: string): string {
  const f = join(files, `${name}-${n++}.jsonl`);
  writeFileSync(f, '');
  return f;
}
const lines = <T = Record<string, unknown>>(f: string) =>
  readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

async function submit(input: FixtureInput, req: Partial<EnqueueRequest> = {}): Promise<Task> {
  return (await store.enqueue({ tenant: TENANT, input, maxAttempts: 3, timeoutMs: 30_000, ...req })).task;
}

/** Polls the store until every task is in one of `statuses`; returns them as they are then. */
async function settle(tasks: Task[], statuses: string[] = ['succeeded', 'dead', 'cancelled'], timeoutMs = 20_000): Promise<Task[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await Promise.all(tasks.map(async (t) => (await store.get(TENANT, t.id))!));
    if (now.every((t) => statuses.includes(t.status))) return now;
    if (Date.now() > deadline) throw new Error(`tasks did not reach ${statuses.join('/')}: ${JSON.stringify(now.map((t) => t.status))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until every task has published `step` (its side effect is stored by then). */
async function reached(tasks: Task[], step: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const seen = await Promise.all(tasks.map(async (t) => (await store.events(t.id, 0)).some((e) => (e.event as { step?: string }).step === step)));
    if (seen.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`not every task reached ${step}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('executor', () => {
  it('runs 200 tasks to completion, each with its own result', async () => {
    const tasks = [];
    for (let i = 0; i < 200; i++) tasks.push(await submit({ op: 'echo', text: `task ${i}` }));
    const done = await settle(tasks);
    done.forEach((t, i) => expect(t).toMatchObject({ status: 'succeeded', attempt: 1, result: { content: `echo: task ${i}` } }));
  });

  it("runs each child's executor threads and store thread 5 below its event loop (executor.thread_nice), the rest at the loop's", () => {
    const pids = d.childPids();
    expect(pids).toHaveLength(2);
    for (const pid of pids) {
      const threads = threadsOf(pid);
      const loop = threads.find((t) => t.tid === pid)!;
      // Two executor threads and the store's: Node names each worker thread "WorkerThread".
      const workers = threads.filter((t) => t.comm === 'WorkerThread');
      expect(workers.map((t) => t.nice - loop.nice)).toEqual([5, 5, 5]);
      // V8's helpers, the inspector's and libuv's threads: started by the loop, at its priority.
      for (const t of threads.filter((t) => t.comm !== 'WorkerThread')) expect(t.nice, t.comm).toBe(loop.nice);
    }
  });

  it('aborts a task at its timeout and records TASK_TIMEOUT', async () => {
    const aborts = file('aborts');
    const started = Date.now();
    const task = await submit({ op: 'sleep', ms: 20_000, file: aborts }, { timeoutMs: 300, maxAttempts: 1 });
    const [done] = await settle([task]);
    expect(done).toMatchObject({ status: 'dead', attempt: 1, error: { code: 'TASK_TIMEOUT' } });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(lines(aborts)).toEqual([{ taskId: task.id, aborted: 'TASK_TIMEOUT' }]);
  });

  it('retries a failing task with backoff, then dead-letters it; a non-retryable failure runs once', async () => {
    const attempts = file('attempts');
    const flaky = await submit({ op: 'fail', code: 'BOOM', file: attempts });
    const fatal = await submit({ op: 'fail', code: 'BAD_INPUT', retryable: false, file: attempts });
    const [f, g] = await settle([flaky, fatal]);
    expect(f).toMatchObject({ status: 'dead', attempt: 3, error: { code: 'BOOM', message: 'failing on purpose (attempt 3)' } });
    expect(g).toMatchObject({ status: 'dead', attempt: 1, error: { code: 'BAD_INPUT' } });
    expect(lines<{ taskId: string; attempt: number }>(attempts).filter((l) => l.taskId === flaky.id).map((l) => l.attempt)).toEqual([1, 2, 3]);
  });

  it('cancels a running task: its signal aborts and it ends cancelled', async () => {
    const aborts = file('aborts');
    const task = await submit({ op: 'sleep', ms: 30_000, file: aborts });
    await settle([task], ['running']);
    const cancelledAt = Date.now();
    expect((await store.cancel(TENANT, task.id))?.status).toBe('cancelling');
    const [done] = await settle([task]);
    expect(done).toMatchObject({ status: 'cancelled', error: { code: 'TASK_CANCELLED' } });
    // Learnt on the next renewal: within a third of the 1 s lease, plus the write.
    expect(Date.now() - cancelledAt).toBeLessThan(1500);
    expect(lines(aborts)).toEqual([{ taskId: task.id, aborted: 'TASK_CANCELLED' }]);
  });

  it('runs the turns of one session one at a time, in order, each seeing the history before it', async () => {
    const log = file('turns');
    const turns: Task[] = [];
    for (let turn = 1; turn <= 4; turn++) {
      for (const session of ['s1', 's2', 's3']) {
        turns.push(await submit({ op: 'turn', content: `${session} message ${turn}`, file: log, ms: 150 }, { kind: 'turn', sessionId: session }));
      }
    }
    const done = await settle(turns);
    expect(done.every((t) => t.status === 'succeeded')).toBe(true);
    const events = lines<{ session: string; taskId: string; event: string; at: number; history?: number }>(log);
    for (const session of ['s1', 's2', 's3']) {
      const mine = events.filter((e) => e.session === session);
      // start, end, start, end, … in submission order: no turn of a session overlapped another.
      expect(mine.map((e) => e.event)).toEqual(['start', 'end', 'start', 'end', 'start', 'end', 'start', 'end']);
      expect(mine.filter((e) => e.event === 'start').map((e) => e.taskId)).toEqual(turns.filter((t) => t.sessionId === session).map((t) => t.id));
      expect(mine.filter((e) => e.event === 'start').map((e) => e.history)).toEqual([0, 2, 4, 6]);
      const history = (await store.sessionGet(TENANT, session))!.messages;
      expect(history).toHaveLength(8);
      expect(history.slice(6)).toEqual([
        { role: 'user', content: `${session} message 4` },
        { role: 'assistant', content: `reply to ${session} message 4` },
      ]);
    }
  });

  it('on reload, gives tasks that outlive the drain deadline back to the queue: they finish on the new children', async () => {
    const effects = file('effects');
    const tasks = [];
    // Long enough that no task can finish on an old child however slowly a busy machine reloads
    // (a task one old child gives back may be claimed by the other old child until it drains too).
    for (let i = 0; i < 10; i++) tasks.push(await submit({ op: 'effect', file: effects, ms: 8000 }));
    await reached(tasks, 'after-tool');
    const before = d.childPids();
    d.signal('SIGHUP');
    const done = await settle(tasks, undefined, 30_000);
    for (const t of done) {
      // A release is not an attempt: nothing failed.
      expect(t).toMatchObject({ status: 'succeeded', attempt: 1, error: null, result: { effect: { ranOnAttempt: 1 } } });
      expect(before.some((pid) => t.worker?.endsWith(`:${pid}`))).toBe(false);
    }
    expect(lines(effects)).toHaveLength(10);
  });

  it('finishes every task of a child killed with SIGKILL on another child, running each side effect once', async () => {
    const effects = file('effects');
    const tasks = [];
    for (let i = 0; i < 20; i++) tasks.push(await submit({ op: 'effect', file: effects, ms: 2500 }));
    await reached(tasks, 'after-tool');
    const running = await Promise.all(tasks.map(async (t) => (await store.get(TENANT, t.id))!));
    const byPid = new Map<number, number>();
    for (const t of running) {
      const pid = Number(t.worker!.split(':').pop());
      byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
    }
    const [victim] = [...byPid].sort((a, b) => b[1] - a[1])[0]!;
    process.kill(victim, 'SIGKILL');

    const done = await settle(tasks, undefined, 30_000);
    for (const t of done) {
      const wasOnVictim = running.find((r) => r.id === t.id)!.worker!.endsWith(`:${victim}`);
      expect(t).toMatchObject({ status: 'succeeded', attempt: wasOnVictim ? 2 : 1, result: { effect: { ranOnAttempt: 1 } } });
    }
    const ran = lines<{ taskId: string }>(effects).map((l) => l.taskId).sort();
    expect(ran).toEqual(tasks.map((t) => t.id).sort());
  });
});

// Agents that misbehave, against a real supervisor with one child of two executor threads:
// a busy loop, a promise that never settles, process.exit, a result that cannot be cloned.
// Each costs its own task and nothing else: the other tasks on its thread finish (or go back
// to the queue without counting an attempt), and the slots come back. And a cancel reaches a
// running agent at once, not at its lease's next renewal.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type EnqueueRequest, type Store, type Task } from '../../../src/store/index.ts';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { request, sleep } from '../../helpers/http.ts';
import type { FixtureInput } from '../../unit/worker-pool/fixtures/agent.ts';

const FIXTURE = join(import.meta.dirname, '../../unit/worker-pool/fixtures/agent.ts');
const TENANT = 'acme';
let d: DroverProcess;
let store: Store;
let admin: number;

beforeAll(async () => {
  const stateDir = tempDir('drover-state-');
  d = await startDrover({
    args: ['start', '--port', '0', '--children', '1'],
    env: {
      DROVER_SUPERVISOR__STATE_DIR: stateDir,
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '1',
      DROVER_AUTOSCALE__ENABLED: 'false',
      DROVER_ADMIN__PORT: '0',
      DROVER_EXECUTOR__AGENT: FIXTURE,
      DROVER_EXECUTOR__THREADS: '2',
      DROVER_EXECUTOR__TASKS_PER_THREAD: '10',
      // The default lease (30 s): a cancel learnt at a renewal would take up to 10 s.
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_EXECUTOR__RETRY_DELAY: '0.05',
      DROVER_EXECUTOR__ABORT_GRACE: '0.5',
      // The LLM call of a cancelled task: six seconds, as in the report.
      DROVER_LLM__PROVIDERS__MOCK__MOCK_LATENCY_MS: '6000',
    },
  });
  admin = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
  store = await openStore({ backend: 'sqlite', path: '', queue_limit: 100_000, result_ttl: 3600, session_ttl: 3600, cleanup_interval: 60, stateDir });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await store?.close();
});

async function submit(input: FixtureInput, req: Partial<EnqueueRequest> = {}): Promise<Task> {
  return (await store.enqueue({ tenant: TENANT, input, maxAttempts: 3, timeoutMs: 30_000, ...req })).task;
}

async function settle(tasks: Task[], statuses: string[] = ['succeeded', 'dead', 'cancelled'], timeoutMs = 30_000): Promise<Task[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await Promise.all(tasks.map(async (t) => (await store.get(TENANT, t.id))!));
    if (now.every((t) => statuses.includes(t.status))) return now;
    if (Date.now() > deadline) throw new Error(`tasks did not reach ${statuses.join('/')}: ${JSON.stringify(now.map((t) => [t.status, t.error?.code]))}`);
    await sleep(20);
  }
}

/** Running tasks and task slots as the supervisor's status shows them. */
async function slots(): Promise<{ runningTasks: number; taskSlots: number }> {
  return (await request(`http://127.0.0.1:${admin}/status`)).json<{ totals: { runningTasks: number; taskSlots: number } }>().totals;
}

async function slotsFree(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await slots()).runningTasks !== 0) {
    if (Date.now() > deadline) throw new Error(`status still shows ${JSON.stringify(await slots())} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Ten short tasks: they run only if the threads were given back. */
async function threadsServe(): Promise<void> {
  const tasks = await Promise.all(Array.from({ length: 10 }, (_, i) => submit({ op: 'sleep', ms: 50 + i })));
  for (const t of await settle(tasks, undefined, 15_000)) expect(t).toMatchObject({ status: 'succeeded', attempt: 1 });
}

describe('executor faults', () => {
  it('terminates the thread of a busy-looping agent: it ends dead, the others finish without a lost attempt, the slots come back', async () => {
    // Neighbours first, so both threads carry some when the spinner starts.
    const others = await Promise.all(Array.from({ length: 8 }, () => submit({ op: 'sleep', ms: 1500 })));
    await settle(others, ['running']);
    const spinner = await submit({ op: 'spin', ms: 100 }, { timeoutMs: 300, maxAttempts: 1 });
    const [spun, ...rest] = await settle([spinner, ...others]);
    expect(spun).toMatchObject({ status: 'dead', attempt: 1, error: { code: 'TASK_TIMEOUT' } });
    // Those on the spinner's thread went back to the queue and ran again: no attempt counted.
    for (const t of rest) expect(t).toMatchObject({ status: 'succeeded', attempt: 1, error: null });
    const killed = await d.waitLog((l) => l.msg?.startsWith('terminating an executor thread') === true, 5000);
    expect(killed.others).toBeGreaterThan(0);
    await slotsFree();
    await threadsServe();
  }, 60_000);

  it('hands no new task to a thread held by a busy loop while the loop runs; a cancel ends it', async () => {
    const spinner = await submit({ op: 'spin', ms: 0 }, { timeoutMs: 60_000, maxAttempts: 1 });
    await settle([spinner], ['running']);
    // Long enough for its beats to be missed.
    await sleep(3000);
    const tasks = await Promise.all(Array.from({ length: 10 }, (_, i) => submit({ op: 'sleep', ms: 50 + i })));
    for (const t of await settle(tasks, undefined, 15_000)) expect(t).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect((await store.get(TENANT, spinner.id))?.status).toBe('running');
    await store.cancel(TENANT, spinner.id);
    const [done] = await settle([spinner], undefined, 10_000);
    expect(done).toMatchObject({ status: 'cancelled', error: { code: 'TASK_CANCELLED' } });
    await slotsFree();
  }, 60_000);

  it('frees the slot of an agent that never settles and ignores its signal', async () => {
    const hung = await submit({ op: 'hang' }, { timeoutMs: 300, maxAttempts: 1 });
    const [done] = await settle([hung]);
    expect(done).toMatchObject({ status: 'dead', error: { code: 'TASK_TIMEOUT' } });
    await slotsFree(5000);
    expect(await slots()).toMatchObject({ runningTasks: 0, taskSlots: 20 });
  }, 30_000);

  it('fails only the task that calls process.exit (at once or from a timer); the others on its thread succeed', async () => {
    const others = await Promise.all(Array.from({ length: 8 }, () => submit({ op: 'sleep', ms: 1000 })));
    await settle(others, ['running']);
    const now = await submit({ op: 'crash' }, { maxAttempts: 1 });
    const later = await submit({ op: 'crash', later: true, ms: 100 }, { maxAttempts: 1 });
    const [a, b, ...rest] = await settle([now, later, ...others]);
    expect(a).toMatchObject({ status: 'dead', attempt: 1, error: { code: 'AGENT_EXITED' } });
    expect(b).toMatchObject({ status: 'dead', attempt: 1, error: { code: 'AGENT_EXITED' } });
    for (const t of rest) expect(t).toMatchObject({ status: 'succeeded', attempt: 1, error: null });
    await threadsServe();
  }, 60_000);

  it('answers a result holding a function with RESULT_NOT_JSON for that task alone', async () => {
    const others = await Promise.all(Array.from({ length: 8 }, () => submit({ op: 'sleep', ms: 1000 })));
    await settle(others, ['running']);
    const bad = await submit({ op: 'fn-result' });
    const [b, ...rest] = await settle([bad, ...others]);
    expect(b).toMatchObject({ status: 'dead', attempt: 1, error: { code: 'RESULT_NOT_JSON' } });
    for (const t of rest) expect(t).toMatchObject({ status: 'succeeded', attempt: 1, error: null });
  }, 60_000);

  it('delivers a cancel to the running agent within a second: a task in a 6 s LLM call ends cancelled', async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const task = await submit({ op: 'echo', text: `cancel me ${i}` });
      await settle([task], ['running']);
      // Into the LLM call, not still claiming.
      await sleep(100);
      const at = Date.now();
      expect((await store.cancel(TENANT, task.id))?.status).toBe('cancelling');
      const [done] = await settle([task], undefined, 15_000);
      expect(done).toMatchObject({ status: 'cancelled', error: { code: 'TASK_CANCELLED' } });
      latencies.push(done!.finishedAt! - at);
    }
    latencies.sort((a, b) => a - b);
    const p50 = latencies[9]!;
    const p99 = latencies[19]!;
    console.log(`cancel → cancelled over 20 tasks: p50 ${p50} ms, p99 (max) ${p99} ms`);
    // The target is p99 under 1 s; a loaded test machine gets some slack, far below the 10 s of a renewal.
    expect(p50).toBeLessThan(1000);
    expect(p99).toBeLessThan(2500);
  }, 120_000);
});

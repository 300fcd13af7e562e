// The executor pool with real threads, a real SQLite store and the mock LLM on loopback:
// what an agent sees through ctx, and what comes back as the outcome.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockLlm, type MockLlm } from '../../../src/agent/mock-llm.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { openSqliteStore } from '../../../src/store/sqlite/index.ts';
import { openThreadedSqliteStore } from '../../../src/store/sqlite/threaded.ts';
import type { ClaimedTask, Store } from '../../../src/store/types.ts';
import { executorFiles } from '../../../src/worker-pool/files.ts';
import { ExecutorPool } from '../../../src/worker-pool/pool.ts';
import type { Job, RunOutcome } from '../../../src/worker-pool/protocol.ts';
import type { FixtureInput } from './fixtures/agent.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'agent.ts');
let dir: string;
let store: Store;
let mock: MockLlm;
let pool: ExecutorPool;

// Every test runs twice: with the store in this thread, whose threads' calls the pool relays,
// and with the store writing on a thread of its own, which they call over a port of their own.
const stores = [
  { kind: 'in-thread store (calls relayed by the pool)', open: openSqliteStore },
  { kind: 'threaded store (calls over a port to its thread)', open: openThreadedSqliteStore },
];

function start(openStore: typeof openSqliteStore) {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drover-pool-'));
    store = await openStore({ path: join(dir, 'drover.db'), queueLimit: 10_000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });
    mock = await startMockLlm({ latencyMs: 20 });
    const providers = { mock: { ...defaultConfig().llm.providers.mock!, base_url: mock.url } };
    pool = new ExecutorPool({
      threads: 2,
      tasksPerThread: 20,
      files: executorFiles(dir),
      store,
      log: pino({ level: 'silent' }),
      thread: {
        agentFile: FIXTURE, providers, defaultProvider: 'mock', toolLeaseMs: 1000, logLevel: 'silent', childId: 0, abortGraceMs: 300,
        storePort: store.connectPort !== undefined,
      },
    });
  });

  afterAll(async () => {
    await pool.close();
    await mock.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

let n = 0;
/** A real claimed task, so progress events and tool results have a task to belong to. */
async function claimed(input: FixtureInput): Promise<ClaimedTask> {
  await store.enqueue({ tenant: 't', input, maxAttempts: 3, timeoutMs: 10_000 });
  const [task] = await store.claim({ worker: 'test', n: 1, leaseMs: 60_000 });
  return task!;
}

function job(task: ClaimedTask, overrides: Partial<Job> = {}): Job {
  return { taskId: task.id, attempt: task.attempt, fence: task.fence, tenant: task.tenant, owner: `owner-${n++}`, input: task.input, timeoutMs: 10_000, ...overrides };
}

const succeeded = (o: RunOutcome) => 'ok' in o && o.ok;

const file = (name: string) => {
  const f = join(dir, `${name}-${n++}.jsonl`);
  writeFileSync(f, '');
  return f;
};
const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe.each(stores)('executor pool, $kind', ({ open }) => {
  start(open);

  it('has threads × tasks per thread slots and runs an agent that calls the LLM', async () => {
    expect(pool.slots).toBe(40);
    const task = await claimed({ op: 'echo', text: 'hello' });
    expect(await pool.run(job(task))).toEqual({ ok: true, result: { content: 'echo: hello', attempt: 1 } });
    expect(pool.running).toBe(0);
  });

  it('runs many tasks at once on each thread', async () => {
    const tasks = await Promise.all(Array.from({ length: 40 }, () => claimed({ op: 'sleep', ms: 300 })));
    const started = Date.now();
    const outcomes = await Promise.all(tasks.map((t) => pool.run(job(t))));
    expect(outcomes.every(succeeded)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('runs a tool once per task: a redelivered attempt gets the stored result', async () => {
    const effects = file('effects');
    const task = await claimed({ op: 'effect', file: effects, ms: 0 });
    const first = await pool.run(job(task));
    const again = await pool.run(job(task, { attempt: 2 }));
    expect(lines(effects)).toHaveLength(1);
    // The first run hands back the stored (JSON) value too, so both attempts see the same thing.
    const effect = { ranOnAttempt: 1, at: '1970-01-01T00:00:00.000Z' };
    expect(first).toEqual({ ok: true, result: { effect, attempt: 1 } });
    expect(again).toEqual({ ok: true, result: { effect, attempt: 2 } });
  });

  it('makes a concurrent duplicate wait for the running tool instead of running it again', async () => {
    const effects = file('effects');
    const task = await claimed({ op: 'effect', file: effects, ms: 0 });
    const [a, b] = await Promise.all([pool.run(job(task)), pool.run(job(task, { attempt: 2 }))]);
    expect(lines(effects)).toHaveLength(1);
    expect(succeeded(a) && succeeded(b)).toBe(true);
  });

  it('shares one run between two calls with the same key inside one attempt', async () => {
    const runs = file('runs');
    const task = await claimed({ op: 'tool-twice', file: runs });
    expect(await pool.run(job(task))).toEqual({ ok: true, result: [42, 42] });
    expect(lines(runs)).toHaveLength(1);
  });

  it('stores every progress event, in order, before the outcome comes back', async () => {
    const task = await claimed({ op: 'progress', n: 25 });
    expect(succeeded(await pool.run(job(task)))).toBe(true);
    const events = (await store.events(task.id, 0)).map((e) => e.event as { i?: number }).filter((e) => e.i !== undefined);
    expect(events.map((e) => e.i)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('aborts one task on cancel while the others on its thread carry on', async () => {
    const aborts = file('aborts');
    const victim = await claimed({ op: 'sleep', ms: 10_000, file: aborts });
    const others = await Promise.all(Array.from({ length: 4 }, () => claimed({ op: 'sleep', ms: 300 })));
    const victimJob = job(victim);
    const running = [pool.run(victimJob), ...others.map((t) => pool.run(job(t)))];
    await new Promise((r) => setTimeout(r, 100));
    pool.abort(victimJob.owner, 'cancel');
    const [cancelled, ...rest] = await Promise.all(running);
    expect(cancelled).toMatchObject({ ok: false, error: { code: 'TASK_CANCELLED' }, retryable: false });
    expect(rest.every(succeeded)).toBe(true);
    expect(lines(aborts)).toEqual([{ taskId: victim.id, aborted: 'TASK_CANCELLED' }]);
  });

  it('aborts the signal at the task timeout and reports TASK_TIMEOUT as retryable', async () => {
    const aborts = file('aborts');
    const task = await claimed({ op: 'sleep', ms: 10_000, file: aborts });
    const started = Date.now();
    expect(await pool.run(job(task, { timeoutMs: 150 }))).toMatchObject({ ok: false, error: { code: 'TASK_TIMEOUT' }, retryable: true });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(lines(aborts)).toEqual([{ taskId: task.id, aborted: 'TASK_TIMEOUT' }]);
  });

  it("keeps an agent error's code and its retryable: false", async () => {
    const task = await claimed({ op: 'fail', code: 'BAD_INPUT', retryable: false });
    expect(await pool.run(job(task))).toEqual({
      ok: false, retryable: false, error: { code: 'BAD_INPUT', message: 'failing on purpose (attempt 1)' },
    });
  });

  it('refuses a result that is not JSON', async () => {
    const task = await claimed({ op: 'bad-result' });
    expect(await pool.run(job(task))).toMatchObject({ ok: false, error: { code: 'RESULT_NOT_JSON' }, retryable: false });
  });

  it('refuses a result holding a function as RESULT_NOT_JSON, and its neighbours on the thread finish', async () => {
    const others = await Promise.all(Array.from({ length: 6 }, () => claimed({ op: 'sleep', ms: 300 })));
    const running = others.map((t) => pool.run(job(t)));
    const bad = await claimed({ op: 'fn-result' });
    expect(await pool.run(job(bad))).toMatchObject({ ok: false, error: { code: 'RESULT_NOT_JSON' }, retryable: false });
    expect((await Promise.all(running)).every(succeeded)).toBe(true);
  });

  it('ends only the attempt that calls process.exit or throws from a timer; its neighbours finish', async () => {
    const others = await Promise.all(Array.from({ length: 6 }, () => claimed({ op: 'sleep', ms: 400 })));
    const running = others.map((t) => pool.run(job(t)));
    const now = await claimed({ op: 'crash' });
    const later = await claimed({ op: 'crash', later: true, ms: 50 });
    const thrown = await claimed({ op: 'throw-later', ms: 50 });
    const [a, b, c] = await Promise.all([pool.run(job(now)), pool.run(job(later)), pool.run(job(thrown))]);
    expect(a).toMatchObject({ ok: false, error: { code: 'AGENT_EXITED', message: 'the agent called process.exit(3)' } });
    expect(b).toMatchObject({ ok: false, error: { code: 'AGENT_EXITED' } });
    expect(c).toMatchObject({ ok: false, error: { code: 'AGENT_ERROR', message: 'thrown from a timer' } });
    expect((await Promise.all(running)).every(succeeded)).toBe(true);
  });

  it('gives up on an agent that never settles once the grace after its timeout is over', async () => {
    const task = await claimed({ op: 'hang' });
    const started = Date.now();
    expect(await pool.run(job(task, { timeoutMs: 100 }))).toMatchObject({ ok: false, error: { code: 'TASK_TIMEOUT' } });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(pool.running).toBe(0);
  });

  it('terminates the thread of a busy-looping agent: the others on it come back released, the next tasks run', async () => {
    // Fill both threads, so the spinner shares a thread with some of them.
    const others = await Promise.all(Array.from({ length: 10 }, () => claimed({ op: 'sleep', ms: 20_000 })));
    const othersJobs = others.map((t) => job(t));
    const running = othersJobs.map((j) => pool.run(j));
    const spin = job(await claimed({ op: 'spin', ms: 50 }));
    const spinning = pool.run(spin);
    await new Promise((r) => setTimeout(r, 300));
    expect(pool.kill(spin.owner)).toBe(true);
    expect(await spinning).toMatchObject({ ok: false, error: { code: 'AGENT_CRASHED' } });
    // Released ones shared the spinner's thread; the rest are still running on the other one.
    const settled = await Promise.race([Promise.all(running.map((p) => p.then((o) => o))), new Promise((r) => setTimeout(r, 2000, 'waiting'))]);
    expect(settled).toBe('waiting');
    for (const j of othersJobs) pool.abort(j.owner, 'cancel');
    const outcomes = await Promise.all(running);
    const released = outcomes.filter((o) => 'released' in o).length;
    expect(released).toBeGreaterThan(0);
    expect(outcomes.filter((o) => !('released' in o)).every((o) => 'error' in o && o.error.code === 'TASK_CANCELLED')).toBe(true);
    const next = await claimed({ op: 'echo', text: 'still here' });
    expect(await pool.run(job(next))).toMatchObject({ ok: true, result: { content: 'echo: still here' } });
    expect(pool.running).toBe(0);
  });
});

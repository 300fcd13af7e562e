// The pull loop against a real SQLite store, with a runner the test finishes by hand: what
// the loop claims, renews, writes and gives back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../../src/store/redis/index.ts';
import { openSqliteStore } from '../../../src/store/sqlite/index.ts';
import { startRedis } from '../../helpers/redis.ts';
import { StoreError } from '../../../src/store/errors.ts';
import type { EnqueueRequest, Store, Task } from '../../../src/store/types.ts';
import type { AbortReason, Job, Outcome, RunOutcome } from '../../../src/worker-pool/protocol.ts';
import { PullLoop, type PullLoopOptions, type TaskRunner } from '../../../src/worker-pool/pull-loop.ts';

class HandRunner implements TaskRunner {
  readonly slots: number;
  readonly jobs: Job[] = [];
  readonly aborts: { owner: string; reason: AbortReason }[] = [];
  readonly kills: string[] = [];
  private readonly finishers = new Map<string, (o: RunOutcome) => void>();

  constructor(slots: number) {
    this.slots = slots;
  }

  run(job: Job): Promise<RunOutcome> {
    this.jobs.push(job);
    return new Promise((resolve) => this.finishers.set(job.owner, resolve));
  }

  abort(owner: string, reason: AbortReason): void {
    this.aborts.push({ owner, reason });
  }

  /** As the pool does: the thread ends, and with it the attempt. */
  kill(owner: string): boolean {
    this.kills.push(owner);
    this.finishers.get(owner)?.({ ok: false, error: { code: 'AGENT_CRASHED', message: 'terminated' }, retryable: true });
    return true;
  }

  finish(job: Job | undefined, outcome: RunOutcome): void {
    this.finishers.get(job!.owner)!(outcome);
  }
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

type Overrides = Partial<Omit<PullLoopOptions, 'config'>> & { config?: Partial<PullLoopOptions['config']> };

const openSqlite = (dir: string) => openSqliteStore({ path: join(dir, 'drover.db'), queueLimit: 10_000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });

/** The SQLite store with `wrap` between it and the loop (a store that fails as Redis does). */
const wrapping = (wrap: (real: Store) => Store) => async (dir: string) => wrap(await openSqlite(dir));

/** `openStore` opens the store in `dir`, which goes after the test as the default store's does. */
async function setup(slots: number, overrides: Overrides = {}, openStore: (dir: string) => Promise<Store> = openSqlite) {
  const dir = mkdtempSync(join(tmpdir(), 'drover-loop-'));
  const store = await openStore(dir);
  const runner = new HandRunner(slots);
  const loop = new PullLoop({
    store, pool: runner, worker: 'w1', log: pino({ level: 'silent' }), random: () => 0.5,
    ...overrides,
    config: { lease: 0.3, poll_interval: 10, retry_delay: 1, retry_delay_max: 60, ...overrides.config },
  });
  cleanup.push(async () => {
    await loop.drain(0);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const enqueue = async (input: unknown, req: Partial<EnqueueRequest> = {}) =>
    (await store.enqueue({ tenant: 't', input, maxAttempts: 3, timeoutMs: 60_000, ...req })).task;
  const get = async (task: Task) => (await store.get('t', task.id))!;
  return { store, runner, loop, enqueue, get };
}

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ok = (result: unknown): Outcome => ({ ok: true, result });

describe('pull loop', () => {
  it('claims only as many tasks as it has free slots, and claims again as soon as one ends', async () => {
    const { runner, loop, enqueue, get, store } = await setup(2);
    const tasks = [];
    for (let i = 0; i < 5; i++) tasks.push(await enqueue(i));
    loop.start();
    await until('two tasks run', () => runner.jobs.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(runner.jobs).toHaveLength(2);
    expect((await store.stats()).running).toBe(2);
    expect(loop.running).toBe(2);

    // The poll interval is 10 s: the third task can only come from the refill after a completion.
    runner.finish(runner.jobs[0], ok({ answer: 0 }));
    await until('a third task runs', () => runner.jobs.length === 3, 500);
    expect(await get(tasks[0]!)).toMatchObject({ status: 'succeeded', result: { answer: 0 }, attempt: 1 });
  });

  it('retries a retryable failure after a jittered backoff and dead-letters one that is not', async () => {
    const { runner, loop, enqueue, get } = await setup(2);
    const retried = await enqueue('a');
    const fatal = await enqueue('b');
    loop.start();
    await until('both run', () => runner.jobs.length === 2);
    const failedAt = Date.now();
    runner.finish(runner.jobs.find((j) => j.taskId === retried.id), { ok: false, error: { code: 'FLAKY', message: 'try again' }, retryable: true });
    runner.finish(runner.jobs.find((j) => j.taskId === fatal.id), { ok: false, error: { code: 'BAD_INPUT', message: 'no' }, retryable: false });
    await until('both are written', async () => (await get(retried)).status === 'queued' && (await get(fatal)).status === 'dead');
    const r = await get(retried);
    expect(r.error).toEqual({ code: 'FLAKY', message: 'try again' });
    // retry_delay 1 s, first retry, random 0.5: equal jitter gives 500 + 250 ms.
    expect(r.runAt - failedAt).toBeGreaterThanOrEqual(700);
    expect(r.runAt - failedAt).toBeLessThanOrEqual(800);
    expect((await get(fatal)).error).toEqual({ code: 'BAD_INPUT', message: 'no' });
  });

  it('renews the leases while the tasks run and aborts the attempt whose task is cancelled', async () => {
    const { runner, loop, enqueue, get, store } = await setup(3);
    const tasks = [await enqueue('long'), await enqueue('long'), await enqueue('long')];
    const task = tasks[0]!;
    loop.start();
    await until('they run', () => runner.jobs.length === 3);
    // Three leases long: only renewals keep the claims.
    await new Promise((r) => setTimeout(r, 900));
    for (const t of tasks) expect(await get(t)).toMatchObject({ status: 'running', attempt: 1 });
    await store.cancel('t', task.id);
    await until('the attempt is aborted', () => runner.aborts.length === 1, 1000);
    const job = runner.jobs.find((j) => j.taskId === task.id);
    expect(runner.aborts).toEqual([{ owner: job!.owner, reason: 'cancel' }]);
    runner.finish(job, { ok: false, error: { code: 'TASK_CANCELLED', message: 'cancelled' }, retryable: false });
    await until('it is cancelled', async () => (await get(task)).status === 'cancelled');
  });

  it('aborts an attempt that lost its lease and never writes its result', async () => {
    const { runner, loop, enqueue, get, store } = await setup(1);
    const task = await enqueue('x');
    loop.start();
    await until('it runs', () => runner.jobs.length === 1);
    // As if this child had stalled past its lease: the reaper gives the task back to the queue.
    await store.reapExpired(Date.now() + 60_000);
    await until('the attempt is aborted', () => runner.aborts.length === 1, 1000);
    expect(runner.aborts[0]!.reason).toBe('lost');
    runner.finish(runner.jobs[0], ok('too late'));
    await new Promise((r) => setTimeout(r, 100));
    expect(await get(task)).toMatchObject({ status: 'queued', result: null, error: { code: 'LEASE_EXPIRED' } });
  });

  it('on drain, lets tasks finish until the deadline, then gives the rest back without counting the attempt', async () => {
    const { runner, loop, enqueue, get } = await setup(2, { config: { poll_interval: 0.02 } });
    const quick = await enqueue('quick');
    const slow = await enqueue('slow');
    loop.start();
    await until('both run', () => runner.jobs.length === 2);
    const later = await enqueue('later');
    const started = Date.now();
    const drained = loop.drain(300);
    setTimeout(() => runner.finish(runner.jobs.find((j) => j.taskId === quick.id), ok('done')), 50);
    await drained;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await get(quick)).toMatchObject({ status: 'succeeded', result: 'done' });
    expect(await get(slow)).toMatchObject({ status: 'queued', attempt: 0, error: null });
    expect(runner.aborts).toEqual([{ owner: runner.jobs.find((j) => j.taskId === slow.id)!.owner, reason: 'drain' }]);
    expect(await get(later)).toMatchObject({ status: 'queued', attempt: 0 });
  });

  it('gives a chat turn its history and appends the exchange when the turn succeeds', async () => {
    const { runner, loop, enqueue, store } = await setup(2);
    await enqueue({ content: 'question 1' }, { kind: 'turn', sessionId: 's1' });
    await enqueue({ content: 'question 2' }, { kind: 'turn', sessionId: 's1' });
    loop.start();
    await until('the first turn runs', () => runner.jobs.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(runner.jobs).toHaveLength(1);
    expect(runner.jobs[0]!.session).toEqual({ id: 's1', history: [] });
    runner.finish(runner.jobs[0], ok({ content: 'answer 1' }));
    await until('the second turn runs', () => runner.jobs.length === 2);
    const exchange = [{ role: 'user', content: 'question 1' }, { role: 'assistant', content: 'answer 1' }];
    expect(runner.jobs[1]!.session).toEqual({ id: 's1', history: exchange });
    expect((await store.sessionGet('t', 's1'))!.messages).toEqual(exchange);
  });

  it('fails and retries a turn whose session cannot be read, without running it, and frees its slot', async () => {
    const broken = (real: Store): Store => Object.assign(Object.create(real) as Store, {
      sessionGet: () => Promise.reject(Object.assign(new Error('session row unreadable'), { code: 'STORE_ERROR' })),
    });
    const { runner, loop, enqueue, get } = await setup(1, {}, wrapping(broken));
    const turn = await enqueue({ content: 'question' }, { kind: 'turn', sessionId: 's1' });
    loop.start();
    await until('the attempt is written', async () => (await get(turn)).status === 'queued' && (await get(turn)).attempt === 1 && (await get(turn)).error !== null);
    expect((await get(turn)).error).toEqual({ code: 'STORE_ERROR', message: 'session row unreadable' });
    expect(runner.jobs).toHaveLength(0);
    expect(loop.running).toBe(0);
  });

  it('records a timeout for an attempt that holds its thread past twice the grace, and terminates that thread', async () => {
    const { runner, loop, enqueue, get } = await setup(1, { abandonGraceMs: 100 });
    const task = await enqueue('stubborn', { timeoutMs: 100 });
    loop.start();
    await until('it runs', () => runner.jobs.length === 1);
    await until('the timeout is recorded', async () => (await get(task)).status === 'queued', 1000);
    expect((await get(task)).error).toMatchObject({ code: 'TASK_TIMEOUT' });
    expect(runner.kills).toEqual([runner.jobs[0]!.owner]);
    // The thread's end frees the slot; what the killed attempt reports is not written.
    await until('the slot is free', () => loop.running === 0);
    expect((await get(task)).error).toMatchObject({ code: 'TASK_TIMEOUT' });
  });

  it('gives a released attempt back to the queue without counting it', async () => {
    const { runner, loop, enqueue, get } = await setup(1, { config: { poll_interval: 0.02 } });
    const task = await enqueue('bystander');
    loop.start();
    await until('it runs', () => runner.jobs.length === 1);
    runner.finish(runner.jobs[0], { released: true, reason: 'its thread was terminated' });
    await until('it runs again', () => runner.jobs.length === 2, 2000);
    expect(runner.jobs[1]).toMatchObject({ taskId: task.id, attempt: 1 });
    expect((await get(task)).error).toBeNull();
  });

  it('aborts a cancelled attempt at once, not at the next renewal of its 30 s lease', async () => {
    const { runner, loop, enqueue, store } = await setup(1, { config: { lease: 30 } });
    const task = await enqueue('long');
    loop.start();
    await until('it runs', () => runner.jobs.length === 1);
    const started = Date.now();
    await store.cancel('t', task.id);
    await until('the attempt is aborted', () => runner.aborts.length === 1, 2000);
    expect(runner.aborts).toEqual([{ owner: runner.jobs[0]!.owner, reason: 'cancel' }]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("runs a task whose worker died, once that worker's lease ran out", async () => {
    const { runner, loop, enqueue, get, store } = await setup(1, { config: { poll_interval: 0.02 } });
    const task = await enqueue('orphan');
    await store.claim({ worker: 'dead-child', n: 1, leaseMs: 200 });
    loop.start();
    await until('it runs here', () => runner.jobs.length === 1, 2000);
    expect(runner.jobs[0]).toMatchObject({ taskId: task.id, attempt: 2 });
    runner.finish(runner.jobs[0], ok('rescued'));
    await until('it succeeds', async () => (await get(task)).status === 'succeeded');
  });
  it('on a store that can block (Redis), takes a task enqueued while idle at once, not at the next poll', async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const open = () => openRedisStore({ url: redis.url, queueLimit: 10_000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });
    // poll_interval 60 s: only the wake-up can bring the task in while the test waits.
    const { runner, loop } = await setup(1, { config: { poll_interval: 60 } }, open);
    const producer = await open();
    cleanup.push(() => producer.close());
    loop.start();
    await new Promise((r) => setTimeout(r, 200)); // the loop found nothing and sleeps
    const { task } = await producer.enqueue({ tenant: 't', input: 'late', maxAttempts: 1, timeoutMs: 60_000 });
    await until('the task is claimed', () => runner.jobs.length === 1, 20_000);
    expect(runner.jobs[0]?.taskId).toBe(task.id);
    runner.finish(runner.jobs[0], ok('done'));
    await until('the task succeeded', async () => (await producer.get('t', task.id))?.status === 'succeeded');
  });
});

/** The store, except that while `down` the writes a finished attempt makes fail as Redis' do. */
function flaky(store: Store) {
  const state = { down: false, refused: 0 };
  const gate = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    if (state.down) {
      state.refused++;
      throw new StoreError('UNAVAILABLE', 'redis: Connection is closed.');
    }
    return fn(...a);
  };
  const wrapped: Store = {
    ...store,
    complete: gate(store.complete.bind(store)),
    fail: gate(store.fail.bind(store)),
    renew: gate(store.renew.bind(store)),
    sessionAppend: gate(store.sessionAppend.bind(store)),
  };
  return { wrapped, state };
}

describe('pull loop through a store outage', () => {
  it('keeps an outcome written during the outage and writes it once the store answers', async () => {
    let gate: ReturnType<typeof flaky> | undefined;
    // A lease longer than the outage.
    const { runner, loop, enqueue, get } = await setup(1, { config: { lease: 30 } }, wrapping((real) => {
      gate = flaky(real);
      return gate.wrapped;
    }));
    const task = await enqueue('x');
    loop.start();
    await until('it runs', () => runner.jobs.length === 1);
    gate!.state.down = true;
    runner.finish(runner.jobs[0], ok('kept'));
    await until('the write was refused a few times', () => gate!.state.refused >= 3);
    expect((await get(task)).status).toBe('running');
    gate!.state.down = false;
    await until('the task succeeded', async () => (await get(task)).status === 'succeeded');
    expect(await get(task)).toMatchObject({ attempt: 1, result: 'kept' });
  });

  it('writes nothing when the lease was taken over before the store came back (fenced)', async () => {
    let gate: ReturnType<typeof flaky> | undefined;
    // Renewals fail during the outage too, so the 0.3 s lease runs out and the loop's reaper
    // puts the task back in the queue.
    const { runner, loop, enqueue, get, store } = await setup(1, {}, wrapping((real) => {
      gate = flaky(real);
      return gate.wrapped;
    }));
    const task = await enqueue('x');
    loop.start();
    await until('it runs', () => runner.jobs.length === 1);
    gate!.state.down = true;
    runner.finish(runner.jobs[0], ok('stale'));
    await until('the write was refused', () => gate!.state.refused >= 1);
    // The outage outlasted the lease; another worker claimed the task (this loop sleeps
    // until its next poll).
    await until('the lease ran out', async () => (await get(task)).status === 'queued');
    const [other] = await store.claim({ worker: 'w2', n: 1, leaseMs: 60_000 });
    expect(other?.id).toBe(task.id);
    gate!.state.down = false;
    const refused = gate!.state.refused;
    await new Promise((r) => setTimeout(r, 400));
    expect(gate!.state.refused).toBe(refused);
    expect(await get(task)).toMatchObject({ status: 'running', worker: 'w2', attempt: 2, result: null });
    expect(await store.complete(task.id, other!.fence, 'fresh')).toBe(true);
    expect(await get(task)).toMatchObject({ status: 'succeeded', result: 'fresh' });
  });

  it('gives back at once the tasks of a claim the store ran and whose answer was lost, and runs them on attempt 1', async () => {
    let lost = 0;
    // A lease far longer than the test: without the look, the tasks would wait for it.
    const { runner, loop, enqueue, get } = await setup(4, { config: { lease: 60, poll_interval: 0.05 } }, wrapping((real) => ({
      ...real,
      claim: async (req) => {
        const claimed = await real.claim(req);
        if (claimed.length > 0 && lost++ === 0) throw new StoreError('UNAVAILABLE', 'redis: Connection is closed.');
        return claimed;
      },
    })));
    const tasks = [await enqueue('a'), await enqueue('b')];
    loop.start();
    await until('both run', () => runner.jobs.length === 2);
    expect(lost).toBe(2);
    expect(runner.jobs.map((j) => j.attempt)).toEqual([1, 1]);
    for (const job of runner.jobs) runner.finish(job, ok('done'));
    for (const task of tasks) await until('it succeeded', async () => (await get(task)).status === 'succeeded');
    expect((await get(tasks[0]!)).attempts).toHaveLength(1);
  });

  it('leaves alone the tasks it knows of when it looks after a failed claim', async () => {
    let failNext = false;
    const { runner, loop, enqueue, get, store } = await setup(4, { config: { lease: 60, poll_interval: 0.05 } }, wrapping((real) => ({
      ...real,
      claim: async (req) => {
        if (failNext) {
          failNext = false;
          throw new StoreError('UNAVAILABLE', 'redis: Connection is closed.');
        }
        return real.claim(req);
      },
    })));
    const running = await enqueue('running');
    loop.start();
    await until('it runs', () => runner.jobs.length === 1);
    failNext = true;
    const next = await enqueue('next');
    await until('the next runs', () => runner.jobs.length === 2, 5000);
    expect(await get(running)).toMatchObject({ status: 'running', attempt: 1 });
    expect(await store.heldBy('w1')).toHaveLength(2);
    for (const job of runner.jobs) runner.finish(job, ok('done'));
    for (const task of [running, next]) await until('it succeeded', async () => (await get(task)).status === 'succeeded');
    expect(runner.jobs.map((j) => j.attempt)).toEqual([1, 1]);
  });
});

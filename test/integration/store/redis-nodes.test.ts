// Nodes sharing one Redis lose nothing when one of them dies: kill -9 a whole node in the
// middle of its tasks, and another node runs them to the end after their leases expire, with
// each tool side effect made once. Two nodes share the work: a task submitted to a node with
// no free slot runs on the other, its events stream from the node it was submitted to, and a
// cancel sent there stops the run on the other node at once (pub/sub, not the lease).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ANONYMOUS_TENANT } from '../../../src/http/api/auth.ts';
import { openRedisStore } from '../../../src/store/redis/index.ts';
import type { Store, Task } from '../../../src/store/types.ts';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { sleep, until } from '../../helpers/http.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { json, openSse } from '../../helpers/sse.ts';
import { call } from '../api/support.ts';

const CHARGE = join(import.meta.dirname, 'fixtures/charge.mjs');
const WHERE = join(import.meta.dirname, 'fixtures/where.mjs');
const PREFIX = `nodes${randomBytes(4).toString('hex')}`;
let server: RedisServer;
/** The nodes' store, opened from the test: where a task's lease is held (its `worker`). */
let peek: Store;

/** A node of one child; `oneSlot`: one executor thread running one task at a time. */
function node({ leaseS = 1, agent = CHARGE, oneSlot = false } = {}): Promise<DroverProcess> {
  return startDrover({
    args: ['start', '--port', '0', '--children', '1'],
    env: {
      DROVER_STORE__BACKEND: 'redis',
      DROVER_STORE__URL: server.url,
      DROVER_STORE__PREFIX: PREFIX,
      DROVER_SUPERVISOR__STATE_DIR: tempDir('drover-state-'),
      DROVER_EXECUTOR__AGENT: agent,
      DROVER_EXECUTOR__LEASE: String(leaseS),
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2',
      ...(oneSlot && { DROVER_EXECUTOR__THREADS: '1', DROVER_EXECUTOR__TASKS_PER_THREAD: '1' }),
    },
  });
}

interface TaskView { id: string; status: string; attempt: number; result: { name: string; attempt: number } | null }

async function task(d: DroverProcess, id: string, agent?: http.Agent): Promise<TaskView> {
  return (await call(d, 'GET', `/v1/tasks/${id}`, { ...(agent && { agent }) })).json<TaskView>();
}

async function submit(d: DroverProcess, input: unknown, agent: http.Agent): Promise<string> {
  const r = await call(d, 'POST', '/v1/tasks', { body: { input }, agent });
  expect(r.status).toBe(202);
  return r.json<{ id: string }>().id;
}

/** The pid of the child holding the task's lease (a worker is named host:pid). */
const workerPid = (t: Task) => Number(t.worker?.split(':').pop());

beforeAll(async () => {
  server = await startRedis();
  peek = await openRedisStore({ url: server.url, prefix: PREFIX, queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });
}, 30_000);
afterAll(async () => {
  await stopAll();
  await peek?.close();
  await server?.stop();
});

describe('nodes on one Redis', () => {
  it('kill -9 a node mid-run: another node finishes its tasks after the lease, each side effect made once', async () => {
    const ledger = join(tempDir('drover-ledger-'), 'charges');
    writeFileSync(ledger, '');
    const a = await node();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(a, 'POST', '/v1/tasks', { body: { input: { name: `t${i}`, ledger, hold_ms: 1000 }, max_attempts: 3 } });
      expect(r.status).toBe(202);
      ids.push(r.json<{ id: string }>().id);
    }
    // Every task has made its charge and runs on A.
    await until(async () => readFileSync(ledger, 'utf8').split('\n').filter(Boolean).length === 3, (done) => done, 30_000, 'three charges', 100);
    for (const id of ids) expect((await task(a, id)).status).toBe('running');

    a.killGroup();
    const b = await node();
    await until(async () => (await Promise.all(ids.map((id) => task(b, id)))).every((t) => t.status === 'succeeded'), (done) => done, 30_000, 'every task to succeed on B', 100);
    const done = await Promise.all(ids.map((id) => task(b, id)));
    // The second attempt ran on B: the first one's lease ran out with A.
    expect(done.map((t) => t.result)).toEqual(ids.map((_, i) => ({ name: `t${i}`, attempt: 2 })));
    expect(readFileSync(ledger, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['t0', 't1', 't2']);
    await b.stop();
  }, 90_000);

  it('a task submitted to a full node runs on the other; its events stream from the first, and a cancel there stops it within a second', async () => {
    const log = join(tempDir('drover-aborts-'), 'aborts');
    writeFileSync(log, '');
    // Leases far longer than the bound: only the cancel notice can stop a run that soon
    // (a renewal, every lease/3, would take 10 s).
    const a = await node({ leaseS: 30, agent: WHERE, oneSlot: true });
    const toA = new http.Agent({ keepAlive: true });
    onTestFinished(() => toA.destroy());
    // A's only slot is taken before B exists, so A is the one running this task.
    const filler = await submit(a, { hold_ms: 60_000, log }, toA);
    await until(async () => (await task(a, filler, toA)).status, (s) => s === 'running', 30_000, 'the filler to run', 50);
    expect(workerPid((await peek.get(ANONYMOUS_TENANT, filler))!)).toBe(a.childPids()[0]);

    // Submitted to A while A is the only node: it waits in the queue, A taking nothing past
    // its slots, until B joins and claims it.
    const id = await submit(a, { steps: 5, delay_ms: 100, hold_ms: 60_000, log }, toA);
    const stream = await openSse(a.url(`/v1/tasks/${id}/events`), { agent: toA });
    expect(stream.status).toBe(200);
    await sleep(500); // ten of A's poll intervals
    expect((await peek.get(ANONYMOUS_TENANT, id))).toMatchObject({ status: 'queued', attempt: 0 });
    const b = await node({ leaseS: 30, agent: WHERE });
    const progress = () => stream.events.filter((e) => e.event === 'progress').map((e) => json<{ n: number; pid: number }>(e));
    await stream.waitFor(() => progress().length === 5, 30_000);

    // The store says B's child holds the lease, and the agent reports B's child too.
    const [bChild] = b.childPids();
    expect(b.childPids()).toHaveLength(1);
    expect(a.childPids()).not.toContain(bChild);
    const held = (await peek.get(ANONYMOUS_TENANT, id))!;
    expect(held.status).toBe('running');
    expect(workerPid(held)).toBe(bChild);
    // A's stream carries B's progress in order, ids consecutive from 1.
    expect(progress()).toEqual([1, 2, 3, 4, 5].map((n) => ({ n, pid: bChild })));
    expect(stream.events.map((e) => Number(e.id))).toEqual(stream.events.map((_, i) => i + 1));

    const sent = Date.now();
    const cancelled = await call(a, 'DELETE', `/v1/tasks/${id}`, { agent: toA });
    expect(cancelled.status).toBe(202);
    const done = await stream.waitFor((e) => e.event === 'done', 10_000);
    const doneAt = Date.now();
    await stream.ended;
    expect(json(done)).toMatchObject({ status: 'cancelled' });
    expect(stream.events.filter((e) => e.event === 'done')).toEqual([done]);
    expect(stream.events.at(-1)).toBe(done);
    const abortLine = readFileSync(log, 'utf8').split('\n').find((l) => l.startsWith(`${id} aborted `));
    expect(abortLine).toBeDefined();
    const abortedAt = Number(abortLine!.split(' ')[2]);
    // The abort reached the agent on B, timed from the moment the DELETE left (stricter than
    // from its answer: the notice may even arrive before the answer does).
    expect(abortedAt - sent).toBeLessThan(1000);
    expect(doneAt - sent).toBeLessThan(1000);
    expect((await task(a, id, toA)).status).toBe('cancelled');

    // The filler on A was never disturbed, and ends by a cancel too.
    expect(readFileSync(log, 'utf8')).not.toContain(`${filler} aborted`);
    expect((await call(a, 'DELETE', `/v1/tasks/${filler}`, { agent: toA })).status).toBe(202);
    await until(async () => (await task(a, filler, toA)).status, (s) => s === 'cancelled', 10_000, 'the filler to end cancelled', 50);
    await Promise.all([a.stop(), b.stop()]);
  }, 90_000);
});

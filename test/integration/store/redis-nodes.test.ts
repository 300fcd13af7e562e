// Nodes sharing one Redis lose nothing when one of them dies: kill -9 a whole node in the
// middle of its tasks, and another node runs them to the end after their leases expire, with
// each tool side effect made once. A cancel sent to one node stops the run on another at once.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { until } from '../../helpers/http.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { call } from '../api/support.ts';

const AGENT = join(import.meta.dirname, 'fixtures/charge.mjs');
const PREFIX = `nodes${randomBytes(4).toString('hex')}`;
let server: RedisServer;

function node(leaseS = 1): Promise<DroverProcess> {
  return startDrover({
    args: ['start', '--port', '0', '--children', '1'],
    env: {
      DROVER_STORE__BACKEND: 'redis',
      DROVER_STORE__URL: server.url,
      DROVER_STORE__PREFIX: PREFIX,
      DROVER_SUPERVISOR__STATE_DIR: tempDir('drover-state-'),
      DROVER_EXECUTOR__AGENT: AGENT,
      DROVER_EXECUTOR__LEASE: String(leaseS),
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2',
    },
  });
}

interface TaskView { id: string; status: string; attempt: number; result: { name: string; attempt: number } | null }

async function task(d: DroverProcess, id: string): Promise<TaskView> {
  return (await call(d, 'GET', `/v1/tasks/${id}`)).json<TaskView>();
}

beforeAll(async () => {
  server = await startRedis();
}, 30_000);
afterAll(async () => {
  await stopAll();
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

  it('a cancel sent to one node stops the run on the node that runs it within a second', async () => {
    const ledger = join(tempDir('drover-ledger-'), 'charges');
    writeFileSync(ledger, '');
    // A lease far longer than the bound: only the cancel notice can stop the run that soon.
    const runner = await node(30);
    const r = await call(runner, 'POST', '/v1/tasks', { body: { input: { name: 'long', ledger, hold_ms: 60_000 } } });
    const { id } = r.json<{ id: string }>();
    await until(async () => (await task(runner, id)).status === 'running', (done) => done, 30_000, 'the task to run', 100);
    const other = await node(30);
    const cancelled = await call(other, 'DELETE', `/v1/tasks/${id}`);
    expect(cancelled.status).toBe(202);
    const sent = Date.now();
    await until(async () => (await task(other, id)).status === 'cancelled', (done) => done, 10_000, 'the task to end cancelled', 100);
    expect(Date.now() - sent).toBeLessThan(1000 + 500);
  }, 90_000);
});

// A Sentinel failover under load: the store follows the new master, submissions resume, and
// every task acknowledged before the failover (and replicated, which Redis promises no more
// than) is still there to run. Sentinels with a password of their own: drover finds the
// master with store.sentinel_password_env and, without it or with a wrong one, stops at start
// saying so instead of retrying the sentinels in silence.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openRedisStore } from '../../../src/store/redis/index.ts';
import { isStoreError } from '../../../src/store/errors.ts';
import type { Store } from '../../../src/store/types.ts';
import { startDrover, stopAll } from '../../helpers/drover.ts';
import { until } from '../../helpers/http.ts';
import { SENTINEL_MASTER, startSentinelSet, type SentinelSet } from '../../helpers/redis-topologies.ts';
import { call } from '../api/support.ts';

let set: SentinelSet;
let store: Store;
beforeAll(async () => {
  set = await startSentinelSet();
  store = await openRedisStore({
    url: '', topology: { sentinels: set.addresses, sentinelName: SENTINEL_MASTER }, prefix: 'failover',
    queueLimit: 100_000, resultTtlMs: 60_000, sessionTtlMs: 60_000,
  });
}, 60_000);
afterAll(async () => {
  await stopAll();
  await store?.close();
  await set?.stop();
});

const task = (i: number) => ({ tenant: 'acme', input: { i }, maxAttempts: 3, timeoutMs: 60_000 });

describe('store through Sentinel', () => {
  it('follows a failover: acknowledged tasks survive, submissions fail fast meanwhile and resume after', async () => {
    const before: string[] = [];
    for (let i = 0; i < 200; i++) before.push((await store.enqueue(task(i))).task.id);
    // Redis replicates asynchronously; WAIT is how a client learns its writes reached the replica.
    const master = new Redis(set.master.url);
    expect(await master.wait(1, 5000)).toBe(1);
    master.disconnect();

    // Submissions keep coming while the master dies and the sentinels promote the replica.
    let stop = false;
    const outcomes = { ok: [] as string[], unavailable: 0, other: [] as string[] };
    const load = (async () => {
      for (let i = 0; !stop && i < 20_000; i++) {
        try {
          outcomes.ok.push((await store.enqueue(task(1000 + i))).task.id);
        } catch (err) {
          if (isStoreError(err) && err.code === 'UNAVAILABLE') outcomes.unavailable++;
          else outcomes.other.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const okBefore = outcomes.ok.length;
    process.kill(set.master.pid, 'SIGKILL');

    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && outcomes.ok.length < okBefore + 20) await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await load;
    expect(outcomes.other).toEqual([]);
    expect(outcomes.ok.length).toBeGreaterThanOrEqual(okBefore + 20);
    const promoted = new Redis(set.replica.url);
    expect((await promoted.role())[0]).toBe('master');
    promoted.disconnect();

    // Every task acknowledged before the failover is there and runs.
    const claimed = new Set<string>();
    for (let i = 0; i < 50 && claimed.size < before.length + outcomes.ok.length; i++) {
      for (const t of await store.claim({ worker: 'w', n: 100, leaseMs: 60_000 })) claimed.add(t.id);
    }
    for (const id of before) expect(claimed.has(id)).toBe(true);
  }, 60_000);
});

describe('sentinels with a password of their own', () => {
  it('drover finds the master with store.sentinel_password_env; without it, or with a wrong one, it stops at start saying why', async () => {
    const secured = await startSentinelSet({ sentinelPassword: 'sentinel-pw' });
    onTestFinished(() => secured.stop());
    // The sentinels do refuse a client that does not authenticate.
    const sentinel = secured.sentinels[0]!;
    const { stdout } = await promisify(execFile)('redis-cli', ['-p', String(sentinel.port), 'SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER]);
    expect(stdout).toMatch(/^NOAUTH/);

    const node = (env: Record<string, string>, waitStarted = true) => startDrover({
      args: ['start', '--port', '0', '--children', '1'],
      waitStarted,
      env: {
        DROVER_STORE__BACKEND: 'redis',
        DROVER_STORE__SENTINELS: JSON.stringify(secured.addresses),
        DROVER_STORE__SENTINEL_NAME: SENTINEL_MASTER,
        DROVER_STORE__PREFIX: `spw${randomBytes(4).toString('hex')}`,
        DROVER_EXECUTOR__AGENT: join(import.meta.dirname, '../api/fixtures/agent.mjs'),
        DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
        ...env,
      },
    });
    const d = await node({ DROVER_STORE__SENTINEL_PASSWORD_ENV: 'TEST_SENTINEL_PW', TEST_SENTINEL_PW: 'sentinel-pw' });
    const r = await call(d, 'POST', '/v1/tasks', { body: { input: { result: { via: 'sentinel' } } } });
    expect(r.status).toBe(202);
    const id = r.json<{ id: string }>().id;
    const done = await until(async () => (await call(d, 'GET', `/v1/tasks/${id}`)).json<{ status: string; result: unknown }>(), (t) => t.status === 'succeeded', 30_000, 'the task to succeed', 100);
    expect(done.result).toEqual({ via: 'sentinel' });
    await d.stop();

    for (const [env, reason] of [
      [{}, /no sentinel answered \(last error: NOAUTH[^)]*\); the sentinels require a password of their own: set store\.sentinel_password_env/],
      [{ DROVER_STORE__SENTINEL_PASSWORD_ENV: 'TEST_SENTINEL_PW', TEST_SENTINEL_PW: 'not-it' }, /no sentinel answered \(last error: WRONGPASS[^)]*\); the sentinels refused the password from store\.sentinel_password_env/],
    ] as const) {
      const refused = await node(env, false);
      const { code } = await refused.exitWithin(20_000);
      expect(code).not.toBe(0);
      expect(refused.stderr).toMatch(reason);
      expect(refused.stderr).toContain(`of sentinels ${secured.addresses.join(',')}`);
      expect(refused.stderr).not.toContain('not-it');
    }
  }, 90_000);
});

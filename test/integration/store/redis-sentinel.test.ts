// A Sentinel failover under load: the store follows the new master, submissions resume, and
// every task acknowledged before the failover (and replicated, which Redis promises no more
// than) is still there to run.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../../src/store/redis/index.ts';
import { isStoreError } from '../../../src/store/errors.ts';
import type { Store } from '../../../src/store/types.ts';
import { SENTINEL_MASTER, startSentinelSet, type SentinelSet } from '../../helpers/redis-topologies.ts';

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

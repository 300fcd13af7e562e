// What the Redis backend does beyond the conformance suite (test/conformance/redis.test.ts):
// Redis' own clock, functions and scripts surviving FUNCTION/SCRIPT FLUSH, EVAL on a Redis
// without Functions, events kept in the task's hash,
// subscriptions surviving a dropped connection, UNAVAILABLE and fault() while Redis is
// down, and the Lua scripts reaching the single binary's bundle.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { isStoreError } from '../../../src/store/errors.ts';
import { luaSources } from '../../../src/store/redis/lua-sources.ts';
import { openStore } from '../../../src/store/index.ts';
import { openRedisStore, type RedisStoreOptions } from '../../../src/store/redis/index.ts';
import { redisPasswords, sentinelFailure } from '../../../src/store/redis/connect.ts';
import { durabilityWarnings, type RedisDurability } from '../../../src/store/redis/inspect.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import type { Store, TaskEvent } from '../../../src/store/types.ts';
import { embedLua } from '../../../scripts/embed-lua.ts';
import { eventually, req } from '../../conformance/store/harness.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

async function open(overrides: Partial<RedisStoreOptions> = {}): Promise<Store> {
  const store = await openRedisStore({
    url: server.url, prefix: `t${randomBytes(6).toString('hex')}`, queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000, ...overrides,
  });
  onTestFinished(() => store.close());
  return store;
}

async function redisNow(): Promise<number> {
  const [sec, usec] = await admin.time();
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
}

describe('redis store', () => {
  it('runs leases on Redis\' clock when no clock is given', async () => {
    const store = await open();
    const { task } = await store.enqueue(req());
    const before = await redisNow();
    const [first] = await store.claim({ worker: 'w1', n: 1, leaseMs: 200 });
    const after = await redisNow();
    expect(first?.leaseUntil).toBeGreaterThanOrEqual(before + 200);
    expect(first?.leaseUntil).toBeLessThanOrEqual(after + 200);
    expect(await store.claim({ worker: 'w2', n: 1, leaseMs: 1000 })).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    const [second] = await store.claim({ worker: 'w2', n: 1, leaseMs: 1000 });
    expect(second).toMatchObject({ id: task.id, attempt: 2, error: { code: 'LEASE_EXPIRED' } });
  });

  it('keeps working after Redis forgot its functions and scripts (FUNCTION FLUSH, SCRIPT FLUSH)', async () => {
    const store = await open();
    const peer = await open();
    await store.enqueue(req());
    await admin.call('FUNCTION', 'FLUSH');
    await admin.script('FLUSH');
    // Two handles miss the library at once; both get their answer.
    const [a, b] = await Promise.all([store.enqueue(req()), peer.enqueue(req())]);
    expect([a.created, b.created]).toEqual([true, true]);
    expect(await store.claim({ worker: 'w1', n: 5, leaseMs: 1000 })).toHaveLength(2);
  });

  it('runs its operations as EVAL scripts on a Redis without Functions', async () => {
    // FUNCTION renamed away: the server answers "unknown command", as Redis 6 does.
    const old = await startRedis({ args: ['--rename-command', 'FUNCTION', '""'] });
    onTestFinished(() => old.stop());
    const store = await openRedisStore({ url: old.url, queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });
    onTestFinished(() => store.close());
    const { task } = await store.enqueue(req());
    const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
    expect(claimed?.id).toBe(task.id);
    expect(await store.complete(task.id, claimed!.fence, 7)).toBe(true);
    expect(await store.get(task.tenant, task.id)).toMatchObject({ status: 'succeeded', result: 7 });
  });

  it('keeps a task\'s events in its hash, the newest eventsMax of them, and removes them with the task', async () => {
    const prefix = `t${randomBytes(6).toString('hex')}`;
    const store = await open({ prefix, resultTtlMs: 30_000, eventsMax: 3 });
    const { task } = await store.enqueue(req());
    const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
    for (const n of [1, 2, 3]) await store.publish(task.id, claimed?.fence ?? 0, { n });
    await store.complete(task.id, claimed?.fence ?? 0, 'ok');
    // running, three progress events, succeeded: the last three are left.
    expect((await store.events(task.id, 0)).map((e) => [e.seq, e.final])).toEqual([[3, false], [4, false], [5, true]]);
    expect(await admin.keys(`{${prefix}}:ev:*`)).toEqual([]);
    expect((await store.get(task.tenant, task.id))?.status).toBe('succeeded');
    expect((await store.cleanup(Date.now() + 31_000)).tasks).toBe(1);
    expect(await store.events(task.id, 0)).toEqual([]);
  });

  it('keeps a subscription delivering in order after its connection was dropped', async () => {
    const store = await open();
    const { task } = await store.enqueue(req());
    const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
    const fence = claimed?.fence ?? 0;
    const got: TaskEvent[] = [];
    store.subscribe(task.id, 1, (e) => got.push(e));
    await store.publish(task.id, fence, 1);
    await eventually(() => expect(got).toHaveLength(1));
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await store.publish(task.id, fence, 2);
    await store.publish(task.id, fence, 3);
    await eventually(() => expect(got.map((e) => e.event)).toEqual([1, 2, 3]), 10_000);
    await store.publish(task.id, fence, 4);
    await eventually(() => expect(got.map((e) => e.seq)).toEqual([2, 3, 4, 5]), 10_000);
  });

  it('answers UNAVAILABLE at once and reports a fault while Redis is down, and works again once it is back', async () => {
    const own = await startRedis();
    onTestFinished(() => own.stop());
    const store = await open({ url: own.url });
    await store.enqueue(req());
    expect(store.fault()).toBeNull();
    await own.stop({ keepDir: true });
    const started = Date.now();
    await expect(store.enqueue(req())).rejects.toSatisfy((e) => isStoreError(e, 'UNAVAILABLE'));
    expect(Date.now() - started).toBeLessThan(5000);
    // What /readyz answers 503 on: the store knows it cannot reach Redis.
    await eventually(() => expect(store.fault()).toMatch(new RegExp(`^redis at redis://127\\.0\\.0\\.1:${own.port}/? unreachable: .+`)), 5000);
    const again = await startRedis({ port: own.port, dir: own.dir });
    onTestFinished(() => again.stop());
    let created = false;
    for (let i = 0; i < 100 && !created; i++) {
      created = await store.enqueue(req()).then((r) => r.created, () => false);
      if (!created) await new Promise((r) => setTimeout(r, 100));
    }
    expect(created).toBe(true);
    expect(store.fault()).toBeNull();
  });

  it('refuses to open against an unreachable Redis with UNAVAILABLE', async () => {
    await expect(openRedisStore({ url: 'redis://127.0.0.1:1', queueLimit: 1, resultTtlMs: 1, sessionTtlMs: 1, redis: { retryStrategy: () => null } }))
      .rejects.toSatisfy((e) => isStoreError(e, 'UNAVAILABLE'));
  });

  it('carries every Lua script into the single binary\'s bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-lua-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const outfile = join(dir, 'lua.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, '../../../src/store/redis/lua-sources.ts')],
      bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'silent', plugins: [embedLua],
      define: { 'import.meta.dirname': JSON.stringify(dir) },
    });
    const bundled = (await import(pathToFileURL(outfile).href)) as { luaSources(): Record<string, string> };
    const sources = luaSources();
    expect(Object.keys(sources)).toContain('claim');
    expect(bundled.luaSources()).toEqual(sources);
  });
});

describe('redis durability at start', () => {
  const safe: RedisDurability = { version: '7.0.15', maxmemoryPolicy: 'noeviction', aof: true, appendfsync: 'everysec', rdbSaves: false };
  it.each([
    ['AOF everysec, noeviction', safe, [['info', /AOF \(appendfsync everysec\).*1 s/]]],
    ['eviction policy', { ...safe, maxmemoryPolicy: 'allkeys-lru' }, [['warn', /allkeys-lru, not noeviction/], ['info', /AOF/]]],
    ['no AOF, RDB snapshots', { ...safe, aof: false, rdbSaves: true }, [['warn', /no AOF \(RDB snapshots only\).*since the last snapshot/]]],
    ['no persistence at all', { ...safe, aof: false, appendfsync: 'everysec', rdbSaves: false }, [['warn', /no AOF and no RDB snapshots: a Redis restart loses the queue;/]]],
  ] as const)('%s', (_, durability, expected) => {
    const lines = durabilityWarnings(durability);
    expect(lines.map(([level]) => level)).toEqual(expected.map(([level]) => level));
    lines.forEach(([, msg], i) => expect(msg).toMatch(expected[i]?.[1] as RegExp));
  });
});

describe('sentinel failures at connect', () => {
  const round = (last: string) => `All sentinels are unreachable. Retrying from scratch after 10ms. Last error: ${last}`;
  it.each([
    ['no password, the sentinels want one', round('NOAUTH HELLO must be called with the client already authenticated'), false,
      'no sentinel answered (last error: NOAUTH HELLO must be called with the client already authenticated); the sentinels require a password of their own: set store.sentinel_password_env to the variable holding it'],
    ['a wrong password', round('WRONGPASS invalid username-password pair or user is disabled.'), true,
      'no sentinel answered (last error: WRONGPASS invalid username-password pair or user is disabled.); the sentinels refused the password from store.sentinel_password_env'],
    ['none listening', round('connect ECONNREFUSED 127.0.0.1:26379'), false, 'no sentinel answered (last error: connect ECONNREFUSED 127.0.0.1:26379)'],
    ['a password given, NOAUTH anyway (not ours to explain)', round('NOAUTH Authentication required.'), true, 'no sentinel answered (last error: NOAUTH Authentication required.)'],
    ['no last error', 'All sentinels are unreachable and retry is disabled.', false, 'no sentinel answered (last error: All sentinels are unreachable and retry is disabled.)'],
  ] as const)('%s', (_, message, passwordGiven, expected) => {
    expect(sentinelFailure(message, passwordGiven)).toBe(expected);
  });
});

describe('redisPasswords', () => {
  it.each([
    ['nothing named', {}, {}, {}],
    ['both named and set', { password_env: 'PW', sentinel_password_env: 'SPW' }, { PW: 'a', SPW: 'b' }, { password: 'a', sentinelPassword: 'b' }],
    ['an empty password is a password', { sentinel_password_env: 'SPW' }, { SPW: '' }, { sentinelPassword: '' }],
  ] as const)('%s', (_, config, env, expected) => {
    expect(redisPasswords(config, env)).toEqual(expected);
  });
  it('names the variable that is not set, never a value', () => {
    expect(() => redisPasswords({ password_env: 'PW', sentinel_password_env: 'SPW' }, { PW: 'secret-a' })).toThrow(/^store\.sentinel_password_env names SPW, which is not set$/);
  });
});

describe('openStore with store.backend = "redis"', () => {
  it('authenticates with the password from store.password_env, and says which variable is unset', async () => {
    const own = await startRedis({ args: ['--requirepass', 'pw-from-env'] });
    onTestFinished(() => own.stop());
    const config = { ...defaultConfig().store, backend: 'redis' as const, url: own.url, prefix: 'p1', password_env: 'DROVER_TEST_PW', stateDir: '' };
    const store = await openStore({ ...config, env: { DROVER_TEST_PW: 'pw-from-env' } });
    onTestFinished(() => store.close());
    expect((await store.enqueue(req())).created).toBe(true);
    const peek = new Redis(own.url, { password: 'pw-from-env' });
    onTestFinished(() => peek.disconnect());
    expect(await peek.zcard('{p1}:ready')).toBe(1);
    await expect(openStore({ ...config, env: {} })).rejects.toThrow(/DROVER_TEST_PW, which is not set/);
    await expect(openStore({ ...config, env: { DROVER_TEST_PW: 'wrong' } })).rejects.toSatisfy((e) => isStoreError(e));
  });
});

describe('redis events bound', () => {
  it('keeps the newest eventsMax events of a task and still resumes after any seq', async () => {
    const store = await open({ eventsMax: 5 });
    const { task } = await store.enqueue(req());
    // Seq 1 is the claim's `running` event; the progress events are 2…13, event i at seq i + 1.
    const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
    const fence = claimed?.fence ?? 0;
    for (let i = 1; i <= 12; i++) await store.publish(task.id, fence, i);
    expect((await store.events(task.id, 0)).map((e) => e.seq)).toEqual([9, 10, 11, 12, 13]);
    expect((await store.events(task.id, 10)).map((e) => e.event)).toEqual([10, 11, 12]);
    expect((await store.events(task.id, 10, 2)).map((e) => e.seq)).toEqual([11, 12]);
    const got: TaskEvent[] = [];
    store.subscribe(task.id, 2, (e) => got.push(e));
    await eventually(() => expect(got.map((e) => e.seq)).toEqual([9, 10, 11, 12, 13]));
    await store.publish(task.id, fence, 13);
    await eventually(() => expect(got.map((e) => e.seq)).toEqual([9, 10, 11, 12, 13, 14]));
  });
});

describe('redis waitForWork', () => {
  it('wakes an idle claimer when another node enqueues or requeues, and times out when nothing comes', async () => {
    const prefix = `t${randomBytes(6).toString('hex')}`;
    const idle = await open({ prefix });
    const other = await open({ prefix });
    const waitFor = idle.waitForWork?.bind(idle);
    if (!waitFor) throw new Error('the redis store offers waitForWork');
    const started = Date.now();
    expect(await waitFor(300)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);

    const woken = waitFor(20_000);
    await new Promise((r) => setTimeout(r, 100));
    const { task } = await other.enqueue(req());
    expect(await woken).toBe(true);
    const [claimed] = await idle.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
    expect(claimed?.id).toBe(task.id);

    const again = waitFor(20_000);
    await other.release(task.id, claimed?.fence ?? 0);
    expect(await again).toBe(true);
  });
});

describe('redis waitForWork with several idle nodes', () => {
  it('wakes the next idle node while tasks are left after a claim', async () => {
    const prefix = `t${randomBytes(6).toString('hex')}`;
    const [a, b, producer] = [await open({ prefix }), await open({ prefix }), await open({ prefix })];
    for (let i = 0; i < 4; i++) await producer.enqueue(req({ input: i }));
    expect(await a.waitForWork?.(3000)).toBe(true);
    expect(await a.claim({ worker: 'a', n: 2, leaseMs: 60_000 })).toHaveLength(2);
    expect(await b.waitForWork?.(3000)).toBe(true);
    expect(await b.claim({ worker: 'b', n: 2, leaseMs: 60_000 })).toHaveLength(2);
    const started = Date.now();
    expect(await a.waitForWork?.(300)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});

describe('redis completeAndClaim', () => {
  it('completes a task and claims the next in one call, and still claims when the fence was stale', async () => {
    const store = await open();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await store.enqueue(req({ input: i }))).task.id);
    const [first] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
    const r = await store.completeAndClaim?.(first?.id ?? '', first?.fence ?? 0, { answer: 1 }, { worker: 'w1', n: 1, leaseMs: 60_000 });
    expect(r?.completed).toBe(true);
    expect(r?.claimed.map((t) => [t.id, t.status, t.worker])).toEqual([[ids[1], 'running', 'w1']]);
    expect(await store.get('acme', ids[0] as string)).toMatchObject({ status: 'succeeded', result: { answer: 1 } });
    expect((await store.events(ids[0] as string, 0)).at(-1)).toMatchObject({ final: true, event: { status: 'succeeded' } });
    const stale = await store.completeAndClaim?.(first?.id ?? '', first?.fence ?? 0, 'again', { worker: 'w1', n: 5, leaseMs: 60_000 });
    expect(stale?.completed).toBe(false);
    expect(stale?.claimed.map((t) => t.id)).toEqual([ids[2]]);
  });
});

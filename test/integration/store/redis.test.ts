// Two drover supervisors sharing one Redis (store.backend = "redis"): a task submitted to
// one is visible with its result on the other, the password comes from an environment
// variable, and the supervisor says at start what Redis would lose.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { AGENT, call } from '../api/support.ts';

const PASSWORD = randomBytes(12).toString('hex');
const PREFIX = `it${randomBytes(4).toString('hex')}`;
let server: RedisServer;
let a: DroverProcess;
let b: DroverProcess;

function node(): Promise<DroverProcess> {
  return startDrover({
    args: ['start', '--port', '0', '--children', '1'],
    env: {
      DROVER_STORE__BACKEND: 'redis',
      DROVER_STORE__URL: server.url,
      DROVER_STORE__PREFIX: PREFIX,
      DROVER_STORE__PASSWORD_ENV: 'TEST_REDIS_PASSWORD',
      TEST_REDIS_PASSWORD: PASSWORD,
      DROVER_SUPERVISOR__STATE_DIR: tempDir('drover-state-'),
      DROVER_EXECUTOR__AGENT: AGENT,
      DROVER_EXECUTOR__LEASE: '1',
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2',
    },
  });
}

beforeAll(async () => {
  server = await startRedis({ args: ['--requirepass', PASSWORD] });
  [a, b] = await Promise.all([node(), node()]);
}, 120_000);

afterAll(async () => {
  await stopAll();
  await server?.stop();
});

describe('store.backend = "redis"', () => {
  it('runs a task submitted to one node and shows its result on the other', async () => {
    const posted = await call(a, 'POST', '/v1/tasks', { body: { input: { steps: 1, result: { ok: 'shared' } } } });
    expect(posted.status).toBe(202);
    const { id } = posted.json<{ id: string }>();
    const deadline = Date.now() + 30_000;
    let seen: { status: string; result: unknown } | undefined;
    while (Date.now() < deadline) {
      const r = await call(b, 'GET', `/v1/tasks/${id}`);
      if (r.status === 200 && (seen = r.json<{ status: string; result: unknown }>()).status === 'succeeded') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toMatchObject({ status: 'succeeded', result: { ok: 'shared' } });
    const redis = new Redis(server.url, { password: PASSWORD });
    try {
      expect(await redis.exists(`{${PREFIX}}:t:${id}`)).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('warns at start that this Redis keeps nothing across a restart', () => {
    const warning = a.logs.find((l) => l.msg.startsWith('redis persistence: no AOF'));
    expect(warning).toMatchObject({ level: 40, aof: false, maxmemoryPolicy: 'noeviction' });
    expect(a.logs.some((l) => l.msg.includes('maxmemory-policy'))).toBe(false);
  });

  it('answers submissions with 503 UNAVAILABLE and Retry-After while Redis is down', async () => {
    await server.stop({ keepDir: true });
    const r = await call(a, 'POST', '/v1/tasks', { body: { input: { steps: 1, result: 1 } } });
    expect(r.status).toBe(503);
    expect(r.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    expect(r.headers['retry-after']).toBe('1');
    // A balancer looking at /readyz sends traffic elsewhere meanwhile.
    let ready = await call(a, 'GET', '/readyz');
    for (let i = 0; i < 100 && ready.status !== 503; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      ready = await call(a, 'GET', '/readyz');
    }
    expect(ready.status).toBe(503);
    expect(ready.json()).toMatchObject({ error: { code: 'STORE_UNAVAILABLE' } });
  });
});

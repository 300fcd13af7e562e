// Two nodes under one shared backlog (Redis): each sizes the fleet and takes its share, so
// together they run about what the backlog needs, not twice it, and settle there.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, type DroverProcess } from '../../helpers/drover.ts';
import { request, sleep } from '../../helpers/http.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { submit } from '../../helpers/tasks.ts';
import { AGENT } from '../api/support.ts';

const PREFIX = `as${randomBytes(4).toString('hex')}`;
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
}, 60_000);

afterAll(async () => {
  await stopAll();
  await redis?.stop();
});

async function node(id: string): Promise<{ d: DroverProcess }> {
  const d = await startDrover({
    args: ['start', '--port', '0', '--children', '1'],
    env: {
      DROVER_STORE__BACKEND: 'redis',
      DROVER_STORE__URL: redis.url,
      DROVER_STORE__PREFIX: PREFIX,
      DROVER_FLEET__NODE_ID: id,
      // A beat slower than the autoscaler's tick: nodes started together must still see each
      // other at their first decision (each used to size the fleet alone until its next beat).
      DROVER_FLEET__HEARTBEAT_INTERVAL: '1',
      DROVER_EXECUTOR__AGENT: AGENT,
      DROVER_EXECUTOR__THREADS: '1',
      DROVER_EXECUTOR__TASKS_PER_THREAD: '2',
      DROVER_EXECUTOR__POLL_INTERVAL: '0.1',
      DROVER_AUTOSCALE__ENABLED: 'true',
      DROVER_AUTOSCALE__MIN_CHILDREN: '1',
      DROVER_AUTOSCALE__MAX_CHILDREN: '8',
      DROVER_AUTOSCALE__INTERVAL: '0.5',
      // Only the backlog speaks: a loaded test machine's event-loop lag or queue wait would add children of their own.
      DROVER_AUTOSCALE__TARGET_QUEUE_WAIT: '0',
      DROVER_AUTOSCALE__MAX_EVENT_LOOP_LAG: '0',
      DROVER_AUTOSCALE__SCALE_UP_MAX_CHILDREN: '8',
      DROVER_AUTOSCALE__MEMORY_RESERVE_MB: '0',
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2',
    },
  });
  return { d };
}

/** Ready children, from the admin endpoint's /status (a CLI process per look is too slow here). */
async function readyChildren(d: DroverProcess): Promise<number> {
  const admin = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
  return (await request(`http://127.0.0.1:${admin}/status`)).json<{ totals: { ready: number } }>().totals.ready;
}

describe('fleet-aware autoscaling', () => {
  it('two nodes under one backlog run the fleet\'s need between them, without a two-fold overshoot, and settle', async () => {
    const [a, b] = await Promise.all([node('node-a'), node('node-b')]);
    // 8 tasks that hold for a minute; 2 slots per child at a 0.7 target: the fleet needs
    // ceil(8 / 1.4) = 6 children. A node sizing itself for the whole backlog would ask for 6
    // alone (12 for both).
    for (let i = 0; i < 8; i++) await submit(a.d.url(''), { hold_ms: 60_000 });
    const totals: number[] = [];
    const deadline = Date.now() + 60_000;
    let stableSince = 0;
    while (Date.now() < deadline) {
      const total = (await readyChildren(a.d)) + (await readyChildren(b.d));
      totals.push(total);
      if (total >= 6 && total === totals.at(-2)) stableSince ||= Date.now();
      else stableSince = 0;
      if (stableSince && Date.now() - stableSince > 4000) break;
      await sleep(250);
    }
    const need = 6;
    expect(Math.max(...totals), `totals seen: ${totals.join(' ')}`).toBeLessThanOrEqual(need + 2);
    expect(totals.at(-1), `totals seen: ${totals.join(' ')}`).toBeGreaterThanOrEqual(need);
    // Each took a share (neither did it all), and the reasons say it was the fleet's need.
    for (const n of [a, b]) {
      const scaled = n.d.logs.filter((l) => l.msg === 'scale' && typeof l.reason === 'string' && /fleet of 2 nodes needs/.test(l.reason));
      expect(scaled.length, `node ${n.d.pid} logged no fleet decision`).toBeGreaterThan(0);
    }
    // Settled: no scale in either direction over the last few seconds.
    const settledAt = Date.now() - 3000;
    for (const n of [a, b]) expect(n.d.logs.filter((l) => l.msg === 'scale' && Date.parse(String(l.time)) > settledAt)).toEqual([]);
  });
});

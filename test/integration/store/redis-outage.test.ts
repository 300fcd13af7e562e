// A Redis restart under load loses nothing that was acknowledged: a node runs tasks while a
// client submits, redis-server (AOF) stops for a few seconds and comes back on the same port
// and files. Every 202'd task ends succeeded (running tasks keep running and write their
// outcome once Redis answers), submissions during the outage get 503 UNAVAILABLE with
// Retry-After, and /readyz says 503 meanwhile and ready again afterwards.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { call } from '../api/support.ts';

const AGENT = join(import.meta.dirname, 'fixtures/charge.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let server: RedisServer | undefined;

afterAll(async () => {
  await stopAll();
  await server?.stop();
});

describe('a Redis restart under load', () => {
  it('loses no acknowledged task, answers 503 UNAVAILABLE meanwhile, and /readyz recovers', async () => {
    const dir = tempDir('drover-redis-aof-');
    server = await startRedis({ aof: true, dir });
    const { port, url } = server;
    const d = await startDrover({
      args: ['start', '--port', '0', '--children', '1'],
      env: {
        DROVER_STORE__BACKEND: 'redis',
        DROVER_STORE__URL: url,
        DROVER_STORE__PREFIX: `outage${randomBytes(4).toString('hex')}`,
        DROVER_SUPERVISOR__STATE_DIR: tempDir('drover-state-'),
        DROVER_EXECUTOR__AGENT: AGENT,
        // Longer than the outage: the attempts running through it keep their claims.
        DROVER_EXECUTOR__LEASE: '10',
        DROVER_EXECUTOR__POLL_INTERVAL: '0.2',
        // The checks below ask for every task at once.
        DROVER_LIMITS__RATE_PER_SECOND: '10000',
        DROVER_LIMITS__BURST: '10000',
      },
    });
    const ledger = join(tempDir('drover-ledger-'), 'charges');
    writeFileSync(ledger, '');
    const runs = join(tempDir('drover-runs-'), 'runs');
    writeFileSync(runs, '');

    const accepted: string[] = [];
    const names: string[] = [];
    const refused: { code: string; retryAfter: unknown }[] = [];
    const other: number[] = [];
    const ready: number[] = [];
    let submitting = true;
    const submitter = (async () => {
      for (let i = 0; submitting; i++) {
        try {
          const r = await call(d, 'POST', '/v1/tasks', { body: { input: { name: `t${i}`, ledger, runs, hold_ms: 800 }, max_attempts: 5 } });
          if (r.status === 202) {
            accepted.push(r.json<{ id: string }>().id);
            names.push(`t${i}`);
          }
          else if (r.status === 503) refused.push({ code: r.json<{ error: { code: string } }>().error.code, retryAfter: r.headers['retry-after'] });
          else other.push(r.status);
        } catch {
          other.push(0);
        }
        await sleep(50);
      }
    })();
    const readiness = (async () => {
      while (submitting) {
        const status = (await call(d, 'GET', '/readyz').catch(() => ({ status: 0 }))).status;
        if (ready.at(-1) !== status) ready.push(status);
        await sleep(100);
      }
    })();

    await sleep(2000);
    const runningBefore = accepted.length;
    await server.stop({ keepDir: true });
    await sleep(3000);
    server = await startRedis({ aof: true, dir, port });
    await sleep(2500);
    submitting = false;
    await Promise.all([submitter, readiness]);

    expect(runningBefore).toBeGreaterThan(5);
    expect(other).toEqual([]);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(r).toEqual({ code: 'UNAVAILABLE', retryAfter: expect.stringMatching(/^\d+$/) });
    expect(ready).toEqual([200, 503, 200]);

    const deadline = Date.now() + 20_000;
    let statuses: string[] = [];
    while (Date.now() < deadline) {
      statuses = await Promise.all(accepted.map(async (id) => {
        const r = await call(d, 'GET', `/v1/tasks/${id}`);
        return r.json<{ status?: string }>().status ?? `HTTP ${r.status} ${r.body}`;
      }));
      if (statuses.every((s) => s === 'succeeded')) break;
      await sleep(250);
    }
    expect(statuses.filter((s) => s !== 'succeeded')).toEqual([]);
    expect(statuses).toHaveLength(accepted.length);
    // Each ran once: no outcome was dropped for the task to run again, and each was charged
    // once. (A claim that Redis ran but whose reply the outage lost leaves tasks held for a
    // worker that does not know of them; it gives them back once Redis answers again.)
    const times = (file: string, name: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.split(' ')[0] === name).length;
    expect(names.filter((n) => times(runs, n) !== 1)).toEqual([]);
    expect(names.filter((n) => times(ledger, n) !== 1)).toEqual([]);
    await d.stop();
  }, 60_000);
});

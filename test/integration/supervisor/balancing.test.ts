import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, viaAgent, type AgentAnswer, type DroverProcess } from '../../helpers/drover.ts';
import { request, sleep } from '../../helpers/http.ts';

afterAll(stopAll);

/** A request the child holds open until the client goes away (`/debug/hold` ends then). */
function holdOpen(url: string): { ended: () => boolean; close: () => void } {
  let ended = false;
  const req = http.get(url, { agent: false }, (res) => res.resume().on('end', () => (ended = true)));
  req.on('error', () => {});
  return { ended: () => ended, close: () => req.destroy() };
}

/**
 * One child holds five long requests; a second child joins; then twenty new connections
 * arrive one after another. Least-load sends them to the idle child. The holds last until the
 * pings are done, however long the second child takes to start.
 */
async function spreadWithOneBusyChild(): Promise<{ busy: number; idle: number; toIdle: number; total: number }> {
  const d: DroverProcess = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '1'] });
  const [busy] = d.childPids();
  const holds = Array.from({ length: 5 }, () => holdOpen(d.url('/debug/hold?ms=120000')));
  await sleep(300);
  d.signal('SIGTTIN');
  await d.nextLog((l) => l.msg === 'child ready', 15_000, 'second child');
  const idle = d.childPids().find((p) => p !== busy)!;
  await sleep(300);
  let toIdle = 0;
  const total = 20;
  for (let i = 0; i < total; i++) {
    const r = await request(d.url('/v1/ping'));
    expect(r.status).toBe(200);
    if (r.json<{ pid: number }>().pid === idle) toIdle++;
  }
  expect(holds.filter((h) => h.ended())).toHaveLength(0);
  for (const h of holds) h.close();
  await d.stop();
  return { busy: busy!, idle, toIdle, total };
}

describe('balancer strategies', () => {
  // Children accepting from the shared socket are steered by a limit: the busy child stops
  // accepting (round robin would alternate: bench/RESULTS.md).
  it('least-load sends new connections to the child that is not busy', async () => {
    const r = await spreadWithOneBusyChild();
    expect(r.idle).not.toBe(r.busy);
    expect(r.toIdle).toBe(r.total);
  });

  it('spreads long-lived connections evenly across children', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'] });
    const holds = Array.from({ length: 40 }, () => request(d.url('/debug/hold?ms=1500')));
    const pids = (await Promise.all(holds)).map((r) => r.json<{ pid: number }>().pid);
    const counts = [...new Set(pids)].map((p) => pids.filter((x) => x === p).length);
    expect(counts).toHaveLength(2);
    // 17..23 (±15%). Without the burst cap 40 connections opened at once split 39/1 and 27/13;
    // with it they split 19–21 on an idle machine and 23/17 when the test suite and other
    // tenants starve the 2 cores, because a child that is not scheduled neither accepts nor
    // reports. The ±10% target is for the spread over a run (bench/RESULTS.md: ±1–3%).
    for (const c of counts) expect(Math.abs(c - 20)).toBeLessThanOrEqual(3);
    await d.stop();
  });

  // A proxy's pool or an SDK's keep-alive agent never reconnects by itself: without a move, a
  // child added later would get none of its connections.
  it('moves a keep-alive pool onto a child added later; a child alone keeps its pool as opened', async () => {
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '1'] });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const answers: (AgentAnswer & { at: number })[] = [];
    let running = true;
    const loop = async () => {
      while (running) {
        const r = await viaAgent(d, agent, '/v1/ping');
        answers.push({ at: Date.now(), ...r });
      }
    };
    const loops = Array.from({ length: 20 }, loop);
    await sleep(1500);
    // One child has no one to move connections to: the pool stays as it was opened.
    expect(new Set(answers.map((a) => a.localPort)).size).toBe(20);
    const [first] = d.childPids();
    d.signal('SIGTTIN');
    await d.nextLog((l) => l.msg === 'child ready', 15_000, 'second child');
    const second = d.childPids().find((p) => p !== first)!;
    // Until the second child answers a quarter of the requests of the last second (at most 15 s).
    const deadline = Date.now() + 15_000;
    let share = 0;
    while (Date.now() < deadline) {
      await sleep(250);
      const recent = answers.filter((a) => a.at >= Date.now() - 1000);
      share = recent.filter((a) => a.pid === second).length / Math.max(1, recent.length);
      if (share >= 0.25) break;
    }
    running = false;
    await Promise.all(loops);
    agent.destroy();
    expect(share).toBeGreaterThanOrEqual(0.25);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const admin = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
    const metrics = (await request(`http://127.0.0.1:${admin}/metrics`)).body;
    // Two ways carry a pool's connection over: the busy child closes it after an answer (moved),
    // or, when its event loop is held (a loaded CI machine), gives it back idle to the
    // supervisor, which places the next request on it by load (rebound). Either one counts.
    const moved = [...metrics.matchAll(/^drover_connections_moved_total\{child="\d+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    const rebound = Number(/^drover_balancer_rebound_requests_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
    expect(moved + rebound).toBeGreaterThan(0);
    await d.stop();
  });

  it('a connection waits in the supervisor while every child is at its target, then is served', async () => {
    const d = await startDrover({
    testRoutes: true,
      args: ['start', '--port', '0', '--children', '1'],
      env: { DROVER_BALANCER__CHILD_TARGET: '1' },
    });
    const t0 = Date.now();
    const slow = request(d.url('/debug/hold?ms=1000'));
    await sleep(100);
    const queued = await request(d.url('/v1/ping'));
    expect(queued.status).toBe(200);
    // It was not handed over while the child was full (one request being answered).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect((await slow).status).toBe(200);
    await d.stop();
  });

  // Before the fix /healthz waited in the queue like any request, until the hold ended.
  it('a health check does not wait behind work: /healthz and /readyz go to a full child at once, a ping waits', async () => {
    const d = await startDrover({
    testRoutes: true,
      args: ['start', '--port', '0', '--children', '1'],
      env: { DROVER_BALANCER__CHILD_TARGET: '1' },
    });
    const slow = request(d.url('/debug/hold?ms=4000'));
    await sleep(300);
    const t0 = Date.now();
    const ping = request(d.url('/v1/ping')).then((r) => ({ status: r.status, ms: Date.now() - t0 }));
    await sleep(100);
    for (const path of ['/healthz', '/readyz']) {
      const t1 = Date.now();
      expect((await request(d.url(path))).status).toBe(200);
      expect(Date.now() - t1).toBeLessThan(2000);
    }
    const p = await ping;
    expect(p.status).toBe(200);
    expect(p.ms).toBeGreaterThanOrEqual(3000);
    expect((await slow).status).toBe(200);
    await d.stop();
  });

  it('refuses with 503 OVERLOADED when the wait queue is full', async () => {
    const d = await startDrover({
    testRoutes: true,
      args: ['start', '--port', '0', '--children', '1'],
      env: { DROVER_BALANCER__CHILD_TARGET: '1', DROVER_BALANCER__QUEUE_LIMIT: '1' },
    });
    const slow = request(d.url('/debug/hold?ms=1500'));
    await sleep(100);
    const waiting = request(d.url('/v1/ping'));
    await sleep(100);
    const refused = await request(d.url('/v1/ping'));
    expect(refused.status).toBe(503);
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('OVERLOADED');
    expect(refused.headers['retry-after']).toBe('1');
    expect((await waiting).status).toBe(200);
    expect((await slow).status).toBe(200);
    await d.stop();
  });
});

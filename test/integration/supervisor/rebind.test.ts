import http from 'node:http';
import net from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, tempDir, TEST_ROUTES, viaAgent, type AgentAnswer as Answer, type DroverProcess } from '../../helpers/drover.ts';
import { eventually, request, sleep, type Reply } from '../../helpers/http.ts';
import { startApi } from '../api/support.ts';
import { WARMUP_MS } from '../../../src/balancer/child/idle-return.ts';

afterAll(stopAll);

async function balancerStatus(d: DroverProcess): Promise<{ idle: number; returned: number; rebound: number }> {
  const admin = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
  return (await request(`http://127.0.0.1:${admin}/status`)).json<{ balancer: { idle: number; returned: number; rebound: number } }>().balancer;
}

/**
 * Until children have given `n` idle connections back and the supervisor holds them (at most
 * 5 s): a fixed pause is too short on a starved machine. Returns how many it last saw hold: a
 * second look could come after a short keep-alive timeout has closed them.
 */
async function untilIdleInSupervisor(d: DroverProcess, n = 1): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { idle } = await balancerStatus(d);
    if (idle >= n || Date.now() >= deadline) return idle;
    await sleep(20);
  }
}

/** Until children have given back `n` connections in all (at most 5 s). */
async function untilReturned(d: DroverProcess, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await balancerStatus(d)).returned < n) {
    if (Date.now() >= deadline) throw new Error(`children gave back fewer than ${n} connections in 5 s`);
    await sleep(20);
  }
}

/**
 * Pings over `agent`'s connection `n` times, each after the supervisor holds it again (a starved
 * child can take longer to give it back than a fixed pause; a request before that goes to that
 * child directly). Returns only those sent before `spinDone()`: they say where a request goes
 * while a child spins.
 */
async function pingsWhileSpinning(d: DroverProcess, agent: http.Agent, spinDone: () => number, n: number): Promise<Answer[]> {
  const during: Answer[] = [];
  for (let i = 0; i < n; i++) {
    await untilIdleInSupervisor(d);
    const sentAt = performance.now();
    const a = await viaAgent(d, agent, '/v1/ping');
    if (sentAt < spinDone()) during.push(a);
  }
  return during;
}

/**
 * Children give idle connections back only after a handler held their event loop: hold each
 * child's loop once, with 300 ms of its CPU (a hold counts only with 25 ms of CPU in it, and a
 * wall-time spin may get less on a machine the whole suite starves). Spins start 20 ms apart,
 * so a next one usually finds the earlier children busy; on a loaded machine a child may take
 * two before its first spin starts, so go again (a held loop counts for 30 s) until every
 * child has spun.
 */
async function holdEveryChild(d: DroverProcess, children: number): Promise<void> {
  // A hold in a child's first seconds is taken for boot work and does not count.
  await sleep(WARMUP_MS);
  const held = new Set<number>();
  for (let round = 0; round < 5 && held.size < children; round++) {
    const spins: Promise<Reply>[] = [];
    for (let i = 0; i < children; i++) {
      spins.push(request(d.url('/debug/spin?ms=300&cpu=1')));
      await sleep(20);
    }
    for (const r of await Promise.all(spins)) held.add(r.json<{ pid: number }>().pid);
  }
  expect(held.size).toBe(children);
}

describe('idle keep-alive connections go back to the supervisor (balancer.rebind_idle_after)', () => {
  it('not while no handler has held a child: connections stay with their child', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'] });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++) {
      answers.push(await viaAgent(d, agent, '/v1/ping'));
      await sleep(40);
    }
    expect(new Set(answers.map((a) => a.pid)).size).toBe(1);
    expect(await balancerStatus(d)).toMatchObject({ idle: 0, rebound: 0 });
    agent.destroy();
    await d.stop();
  });

  it('a request after a pause goes to a child whose event loop is free, on the same connection', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'] });
    await holdEveryChild(d, 2);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const spinner = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await viaAgent(d, agent, '/v1/ping');
    await viaAgent(d, spinner, '/v1/ping');
    // Both connections idle long enough to go back to the supervisor (a child stuck before
    // that keeps them).
    await untilIdleInSupervisor(d, 2);
    // One child burns its event loop for 3 s. The supervisor hands it the spin's connection, so
    // it knows that child has not taken everything it was handed (a connection a child accepts
    // from the shared socket itself is known only from the child's next report, which a loop
    // held at once may not send). It has started once the mark file is there.
    const mark = join(tempDir(), 'spinning');
    let spinDoneAt = Infinity;
    const spin = viaAgent(d, spinner, `/debug/spin?ms=3000&mark=${encodeURIComponent(mark)}`).finally(() => (spinDoneAt = performance.now()));
    await eventually(() => existsSync(mark), 5_000);
    const during = await pingsWhileSpinning(d, agent, () => spinDoneAt, 3);
    const busy = (await spin).pid;
    expect(during.length).toBeGreaterThan(0);
    for (const a of during) {
      expect(a.status).toBe(200);
      expect(a.pid).not.toBe(busy);
      // Served while the other child was still spinning: it did not wait for it.
      expect(a.ms).toBeLessThan(700);
      expect(a.localPort).toBe(first.localPort);
    }
    spinner.destroy();
    expect((await balancerStatus(d)).rebound).toBeGreaterThanOrEqual(3);
    agent.destroy();
    await d.stop();
  });

  it('passes over a child whose heartbeats stopped: one held by a connection it took itself, looking less loaded', async () => {
    // Heartbeats every 200 ms: a child silent for 400 ms is taken as held.
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'], env: { DROVER_SUPERVISOR__HEARTBEAT_INTERVAL: '0.2' } });
    await holdEveryChild(d, 2);
    const admin = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
    const handedTo = async (pid: number) => (await request(`http://127.0.0.1:${admin}/status`))
      .json<{ children: { pid: number; handed: number }[] }>().children.find((c) => c.pid === pid)?.handed;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await viaAgent(d, agent, '/v1/ping');
    await untilIdleInSupervisor(d);
    // A spin on a new connection, taken from the shared socket by the child itself: the
    // supervisor knows of it only from the child's report (if it got one out: one connection,
    // no request). One it handed over instead would leave that child unsettled by itself, which
    // is not what this is about: then spin again.
    let busy = 0;
    let spin: Promise<Reply> | undefined;
    let spinDoneAt = Infinity;
    for (let tries = 0; tries < 5 && !busy; tries++) {
      await spin;
      const mark = join(tempDir(), `spinning-${tries}`);
      const before = new Map(await Promise.all(d.childPids().map(async (pid) => [pid, await handedTo(pid)] as const)));
      spinDoneAt = Infinity;
      spin = request(d.url(`/debug/spin?ms=3000&mark=${encodeURIComponent(mark)}`)).finally(() => (spinDoneAt = performance.now()));
      await eventually(() => existsSync(mark), 5_000);
      const pid = Number(readFileSync(mark, 'utf8'));
      if ((await handedTo(pid)) === before.get(pid)) busy = pid;
    }
    expect(busy).not.toBe(0);
    // The other child holds a request that waits on I/O: by load it is the busier one.
    const hold = request(d.url('/debug/hold?ms=5000'));
    await sleep(600);
    const during = await pingsWhileSpinning(d, agent, () => spinDoneAt, 3);
    expect((await spin!).json<{ pid: number }>().pid).toBe(busy);
    expect(during.length).toBeGreaterThan(0);
    for (const a of during) {
      expect(a.status).toBe(200);
      expect(a.pid).not.toBe(busy);
      expect(a.localPort).toBe(first.localPort);
    }
    expect((await hold).status).toBe(200);
    agent.destroy();
    await d.stop();
  });

  it('spreads the requests of one paused connection over the children; with 0 it stays on one child (the contrast)', async () => {
    const pidsOverOneConnection = async (after: string) => {
      const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'], env: { DROVER_BALANCER__REBIND_IDLE_AFTER: after } });
      await holdEveryChild(d, 2);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const answers: Answer[] = [];
      for (let i = 0; i < 8; i++) {
        answers.push(await viaAgent(d, agent, '/v1/ping'));
        await sleep(40);
      }
      agent.destroy();
      await d.stop();
      expect(new Set(answers.map((a) => a.localPort)).size).toBe(1);
      return new Set(answers.map((a) => a.pid)).size;
    };
    expect(await pidsOverOneConnection('0.01')).toBe(2);
    expect(await pidsOverOneConnection('0')).toBe(1);
  });

  it('a request body larger than one read arrives whole after its connection waited in the supervisor', async () => {
    const api = await startApi({ children: 2, env: { DROVER_HTTP__PLUGIN: TEST_ROUTES } });
    await holdEveryChild(api.d, 2);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await viaAgent(api.d, agent, '/v1/ping');
    await untilIdleInSupervisor(api.d);
    // 200 KB: the supervisor reads at most 64 KB before handing the connection over.
    const input = { text: 'drover '.repeat(30_000) };
    const submitted = await request(api.d.url('/v1/tasks'), {
      method: 'POST', agent, body: JSON.stringify({ input }), headers: { 'content-type': 'application/json' },
    });
    expect(submitted.status).toBe(202);
    await untilIdleInSupervisor(api.d);
    const read = await request(api.d.url(`/v1/tasks/${submitted.json<{ id: string }>().id}`), { agent });
    expect(read.status).toBe(200);
    expect(read.json<{ input: unknown }>().input).toEqual(input);
    expect((await balancerStatus(api.d)).rebound).toBeGreaterThanOrEqual(2);
    agent.destroy();
    await api.close();
  });

  it('closes a waiting connection at the keep-alive timeout, forgets one the client closed, and does not hold up a stop', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'], env: { DROVER_SERVER__KEEP_ALIVE_TIMEOUT: '1' } });
    await holdEveryChild(d, 2);
    // Raw clients: node's http.Agent closes an idle socket itself a second before the server's
    // advertised keep-alive timeout (1 s here), and this is about what the server does.
    const pinged = async () => {
      const raw = net.connect(d.port, '127.0.0.1');
      raw.setEncoding('latin1');
      let got = '';
      raw.on('data', (c: string) => (got += c));
      const closed = new Promise<number>((r) => raw.once('close', () => r(Date.now())));
      raw.write('GET /v1/ping HTTP/1.1\r\nHost: drover\r\n\r\n');
      while (!got.includes('"pong":true')) await sleep(10);
      return { raw, answeredAt: Date.now(), closed };
    };
    // The returned counter, not a look at `idle`, shows the first one went back: under a loaded
    // suite a status request can take longer than the 1 s the connection waits there.
    const before = (await balancerStatus(d)).returned;
    const timedOut = await pinged();
    expect((await timedOut.closed) - timedOut.answeredAt).toBeGreaterThanOrEqual(900);
    const after = await balancerStatus(d);
    expect(after.returned).toBe(before + 1);
    expect(after.idle).toBe(0);

    const leaving = await pinged();
    await untilReturned(d, before + 2);
    leaving.raw.destroy();
    await sleep(100);
    expect((await balancerStatus(d)).idle).toBe(0);

    const held = await pinged();
    await untilReturned(d, before + 3);
    const t0 = Date.now();
    expect(await d.stop()).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(3000);
    held.raw.destroy();
  });

  it('keeps a connection whose next request has begun: a request sent in pieces is answered whole', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'] });
    await holdEveryChild(d, 2);
    const raw = net.connect(d.port, '127.0.0.1');
    raw.setEncoding('latin1');
    let got = '';
    raw.on('data', (c: string) => (got += c));
    const answers = () => got.split('HTTP/1.1 200 OK').length - 1;
    raw.write('GET /v1/ping HTTP/1.1\r\nHost: drover\r\n\r\n');
    while (answers() < 1) await sleep(10);
    // Half of the next request, then a pause far longer than rebind_idle_after.
    raw.write('GET /v1/ping HTTP/1.1\r\nHo');
    await sleep(150);
    expect((await balancerStatus(d)).idle).toBe(0);
    raw.write('st: drover\r\n\r\n');
    while (answers() < 2) await sleep(10);
    expect(got.match(/"pong":true/g)).toHaveLength(2);
    raw.destroy();
    await d.stop();
  });

  it('while every child is busy, a request to a quick route goes before slow ones that came earlier', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '1'] });
    await holdEveryChild(d, 1);
    const [a, b, c, q] = Array.from({ length: 4 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    // Open the four connections, then let them go idle (back to the supervisor).
    for (const agent of [a!, b!, c!, q!]) await viaAgent(d, agent, '/v1/ping');
    await untilIdleInSupervisor(d, 4);
    // Requests on idle connections teach the supervisor how long each route holds the child.
    await viaAgent(d, b!, '/debug/spin?ms=100');
    await viaAgent(d, q!, '/v1/ping');
    await untilIdleInSupervisor(d, 4);
    const finished: string[] = [];
    const track = (name: string, p: Promise<Answer>) => p.then((r) => (finished.push(name), r));
    const busy = track('busy', viaAgent(d, a!, '/debug/spin?ms=600'));
    await sleep(100);
    const slow1 = track('slow1', viaAgent(d, b!, '/debug/spin?ms=100'));
    await sleep(20);
    const slow2 = track('slow2', viaAgent(d, c!, '/debug/spin?ms=100'));
    await sleep(20);
    const quick = track('quick', viaAgent(d, q!, '/v1/ping'));
    const answers = await Promise.all([busy, slow1, slow2, quick]);
    for (const r of answers) expect(r.status).toBe(200);
    // It waited for the request that held the child, not for the two slow ones queued before it
    // (the order says so; a time bound would only measure how loaded the machine is).
    expect(finished).toEqual(['busy', 'quick', 'slow1', 'slow2']);
    for (const agent of [a!, b!, c!, q!]) agent.destroy();
    await d.stop();
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { startDrover, stopAll, writeTemp } from '../../helpers/drover.ts';
import { loadLoop, request, sleep } from '../../helpers/http.ts';

afterAll(stopAll);

const GOOD_AGENT = 'export default async function run(input) { return input; }\n';

describe('supervisor lifecycle', () => {
  it('replaces a child killed with SIGKILL; requests to the other child keep succeeding', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'], env: { DROVER_SUPERVISOR__RESTART_DELAY: '0.1' } });
    const [victim, survivor] = d.childPids();
    const load = loadLoop(d.url('/v1/ping'), 4);
    await sleep(700);
    process.kill(victim!, 'SIGKILL');
    const crashed = await d.waitLog((l) => l.msg === 'child crashed; restarting', 10_000, 'crash noticed');
    expect(crashed.child).toBeDefined();
    await d.waitLogAfter(crashed, (l) => l.msg === 'child ready', 15_000, 'replacement child');
    await sleep(500);
    await load.stop();
    // Only connections already given to the killed child can fail: at most one per client loop.
    expect(load.failures.length).toBeLessThanOrEqual(4);
    expect(load.byPid.get(survivor!) ?? 0).toBeGreaterThan(20);
    const pids = d.childPids();
    expect(pids).toHaveLength(2);
    expect(pids).toContain(survivor);
    expect(pids).not.toContain(victim);
    // Both children, the replacement included, take a share of concurrent requests. (Sequential
    // pings on idle children may all go to whichever child wins the accept race.)
    const served = new Set<number>();
    for (const r of await Promise.all(Array.from({ length: 10 }, () => request(d.url('/debug/hold?ms=300'))))) {
      expect(r.status).toBe(200);
      served.add(r.json<{ pid: number }>().pid);
    }
    expect([...served].sort()).toEqual([...pids].sort());
    await d.stop();
  });

  it('SIGHUP under continuous load: zero failed requests and every child has a new pid', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'] });
    const before = d.childPids();
    const load = loadLoop(d.url('/v1/ping'), 6);
    await sleep(500);
    d.signal('SIGHUP');
    await d.waitLog((l) => l.msg === 'reload done', 30_000, 'reload done');
    await sleep(800);
    await load.stop();
    const after = d.childPids();
    expect(after).toHaveLength(2);
    for (const p of after) expect(before).not.toContain(p);
    expect(load.failures).toEqual([]);
    expect(load.sent).toBeGreaterThan(200);
    // The new children served traffic.
    for (const p of after) expect(load.byPid.get(p) ?? 0).toBeGreaterThan(0);
    await d.stop();
  });

  it('SIGHUP where the new children cannot boot: the old children keep serving, reload reported failed', async () => {
    const agent = writeTemp('agent.mjs', GOOD_AGENT);
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'], env: { DROVER_EXECUTOR__AGENT: agent } });
    const before = d.childPids().sort();
    writeFileSync(agent, "throw new Error('broken deploy');\n");
    d.signal('SIGHUP');
    const failed = await d.waitLog((l) => l.msg.startsWith('reload failed'), 30_000, 'reload failed');
    expect(String(failed.error)).toContain('broken deploy');
    expect(failed.replaced).toBe(0);
    expect(d.childPids().sort()).toEqual(before);
    for (let i = 0; i < 10; i++) {
      const r = await request(d.url('/v1/ping'));
      expect(r.status).toBe(200);
      expect(before).toContain(r.json<{ pid: number }>().pid);
    }
    await d.stop();
  });

  it('SIGTERM with slow requests in flight: they complete, new connections are refused, exit 0', async () => {
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '2'] });
    const admin = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
    const slow = Array.from({ length: 4 }, () => request(d.url('/debug/hold?ms=2000')));
    // Wait until the children report the four requests: a connection still in the kernel's
    // accept queue when the listener closes is reset, as with any server.
    const deadline = Date.now() + 10_000;
    while ((await request(`http://127.0.0.1:${admin}/status`)).json<{ totals: { inflight: number } }>().totals.inflight < 4) {
      if (Date.now() > deadline) throw new Error('the slow requests never reached the children');
      await sleep(20);
    }
    d.signal('SIGTERM');
    await d.waitLog((l) => l.msg === 'stopping');
    await expect(request(d.url('/v1/ping'))).rejects.toThrow(/ECONNREFUSED/);
    for (const r of await Promise.all(slow)) expect(r.status).toBe(200);
    expect(await d.exited).toEqual({ code: 0, signal: null });
  });

  it('replaces a child whose event loop hangs', async () => {
    const d = await startDrover({
    testRoutes: true,
      args: ['start', '--port', '0', '--children', '2'],
      env: { DROVER_SUPERVISOR__HANG_TIMEOUT: '2', DROVER_SUPERVISOR__KILL_TIMEOUT: '1' },
    });
    const r = await request(d.url('/debug/hang'), { method: 'POST' });
    const hung = r.json<{ pid: number }>().pid;
    const line = await d.waitLog((l) => l.msg === 'child hung; replacing', 15_000, 'hang detection');
    expect(line.childPid).toBe(hung);
    await d.waitLogAfter(line, (l) => l.msg === 'child ready', 10_000, 'replacement');
    await d.waitLog((l) => l.msg === 'child exit' && l.childPid === hung, 10_000, 'hung child exit');
    expect(d.childPids()).toHaveLength(2);
    expect(d.childPids()).not.toContain(hung);
    for (let i = 0; i < 6; i++) expect((await request(d.url('/v1/ping'))).status).toBe(200);
    await d.stop();
  });

  it('replaces a child over max_rss_mb gracefully', async () => {
    // The hard limit (auto: 1.5 × max_rss_mb, where a child is killed instead) well above the allocation.
    const d = await startDrover({ testRoutes: true, args: ['start', '--port', '0', '--children', '1'], env: { DROVER_SUPERVISOR__MAX_RSS_MB: '200', DROVER_SUPERVISOR__MAX_RSS_HARD_MB: '2000' } });
    const [fat] = d.childPids();
    const r = await request(d.url('/debug/alloc?mb=250'), { method: 'POST' });
    expect(r.status).toBe(200);
    await d.waitLog((l) => l.msg === 'child over memory limit; replacing' && l.childPid === fat, 15_000, 'memory guard');
    await d.waitLog((l) => l.msg === 'child exit' && l.childPid === fat, 15_000, 'fat child exit');
    expect(d.childPids()).toHaveLength(1);
    expect(d.childPids()).not.toContain(fat);
    expect((await request(d.url('/v1/ping'))).status).toBe(200);
    await d.stop();
  });

  it('exits non-zero with the child\'s last stderr lines when no child can ever start', async () => {
    // It loads in start's own check (no DROVER_CHILD_ID there) and fails in every child.
    const agent = writeTemp('agent.mjs', "if (process.env.DROVER_CHILD_ID) throw new Error('missing OPENAI_KEY');\nexport default async (x) => x;\n");
    const d = await startDrover({
    testRoutes: true,
      args: ['start', '--port', '0', '--children', '2'],
      env: { DROVER_EXECUTOR__AGENT: agent, DROVER_SUPERVISOR__MAX_BOOT_FAILURES: '3', DROVER_SUPERVISOR__RESTART_DELAY: '0.05' },
      waitStarted: false,
    });
    const { code } = await d.exited;
    expect(code).toBe(1);
    expect(d.stderr).toMatch(/no child could start/);
    expect(d.stderr).toMatch(/missing OPENAI_KEY/);
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { cli } from '../../helpers/cli.ts';
import { request } from '../../helpers/http.ts';

afterAll(stopAll);

/** The env that points the CLI at the same runtime directory (control socket) as `d`. */
function envOf(d: DroverProcess, runtimeDir: string): Record<string, string> {
  return { DROVER_SUPERVISOR__RUNTIME_DIR: runtimeDir, DROVER_CONFIG_PID: String(d.pid) };
}

async function adminPort(d: DroverProcess): Promise<number> {
  return (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
}

describe('drover commands against a running supervisor', () => {
  it('status, scale, reload, drain and stop, in human and JSON form', async () => {
    const run = tempDir('drover-run-');
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '2'], env: { DROVER_SUPERVISOR__RUNTIME_DIR: run } });
    const env = envOf(d, run);

    const human = await cli(['status'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/children: 2 ready of 2 desired/);
    for (const pid of d.childPids()) expect(human.stdout).toContain(String(pid));

    const json = await cli(['status', '--json'], env);
    const status = JSON.parse(json.stdout) as { pid: number; children: { pid: number; state: string }[]; totals: { ready: number } };
    expect(status.pid).toBe(d.pid);
    expect(status.totals.ready).toBe(2);
    expect(status.children.map((c) => c.pid).sort()).toEqual(d.childPids().sort());

    const up = await cli(['scale', '+1'], env);
    expect(up).toMatchObject({ code: 0 });
    expect(up.stdout).toMatch(/scale: ok \(3 children ready, pinned\)/);
    await d.waitLog((l) => l.msg === 'child ready' && l.child === 3);
    const scaled = JSON.parse((await cli(['status', '--json'], env)).stdout) as { desired: number; autoscale: { pinned: boolean } };
    expect(scaled.desired).toBe(3);
    expect(scaled.autoscale.pinned).toBe(true);
    expect((await cli(['scale', 'auto'], env)).stdout).toMatch(/autoscaled/);

    const before = d.childPids();
    const reload = await cli(['reload'], env);
    expect(reload.code).toBe(0);
    expect(reload.stdout.match(/child \d\/3: pid \d+ replaced by pid \d+/g)).toHaveLength(3);
    expect(reload.stdout).toMatch(/reload: ok/);
    for (const p of d.childPids()) expect(before).not.toContain(p);

    const replaced = d.childPids();
    const reloadJson = await cli(['reload', '--json'], env);
    const lines = reloadJson.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; ok?: boolean });
    expect(lines.filter((l) => l.type === 'progress')).toHaveLength(3);
    expect(lines.at(-1)).toMatchObject({ type: 'result', ok: true, replaced: 3 });
    // A reload answers once the new children are ready; the old ones finish their work and
    // exit after it. One still exiting would be drained, and reported, with the new three.
    for (const pid of [...before, ...replaced]) await d.waitLog((l) => l.msg === 'child exit' && l.childPid === pid, 20_000, `replaced child ${pid} exits`);

    const drain = await cli(['drain'], env);
    expect(drain.code).toBe(0);
    expect(drain.stdout.match(/drained; \d left/g)).toHaveLength(3);
    const drained = await request(d.url('/v1/ping'));
    expect(drained.status).toBe(503);
    expect(drained.json<{ error: { code: string } }>().error.code).toBe('DRAINING');

    const drainedAt = d.logs.length;
    expect((await cli(['scale', '2'], env)).code).toBe(0);
    // The drained node answered for itself; once a new child listens, the children accept again.
    await d.waitLog((l) => l.msg === 'children accept from the shared socket' && d.logs.indexOf(l) >= drainedAt, 20_000, 'children accepting again');
    expect((await request(d.url('/v1/ping'))).status).toBe(200);

    const stop = await cli(['stop'], env);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(/stop: ok/);
    expect(await d.exited).toEqual({ code: 0, signal: null });
    const gone = await cli(['status'], env);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toMatch(/no drover is running/);
  });

  it('usage errors exit 2 with one line and the usage', async () => {
    for (const args of [['scale'], ['scale', 'many'], ['status', 'extra'], ['--nope']]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^drover: /);
      expect(r.stderr).toMatch(/usage: drover <command>/);
    }
  });

  it('check-config prints the redacted config and the sizing arithmetic', async () => {
    const dir = tempDir();
    const file = `${dir}/drover.toml`;
    writeFileSync(file, '[admin]\nhost = "0.0.0.0"\nallow_remote = true\ntoken = "s3cret-token"\n[executor]\nthreads = 2\n');
    const r = await cli(['check-config', '-c', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('s3cret-token');
    expect(r.stdout).toMatch(/threads/);
    expect(r.stdout).toMatch(/Little's law/);
    const j = JSON.parse((await cli(['check-config', '--json', '-c', file])).stdout) as { sizing: { threads: number } };
    expect(j.sizing.threads).toBe(2);
  });
});

describe('admin endpoint and metrics', () => {
  it('the sum of per-child request counters equals the requests sent', async () => {
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '2'] });
    const port = await adminPort(d);
    const sent = 57;
    for (let i = 0; i < sent; i++) expect((await request(d.url('/v1/ping'))).status).toBe(200);
    expect((await request(d.url('/no/such/path'))).status).toBe(404);
    expect((await request(d.url('/v1/ping'), { method: 'DELETE' })).status).toBe(405);
    const metrics = (await request(`http://127.0.0.1:${port}/metrics`)).body;
    const count = (route: string, cls: string) =>
      [...metrics.matchAll(new RegExp(`^drover_http_requests_total\\{child="\\d+",route="${route}",status_class="${cls}"\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    // Replies sent without a route handler are counted too: not found under "unmatched", 405 under its path.
    expect(count('unmatched', '4xx')).toBe(1);
    expect(count('/v1/ping', '4xx')).toBe(1);
    const series = [...metrics.matchAll(/^drover_http_requests_total\{([^}]*)\} (\d+)$/gm)].filter((m) => m[1]!.includes('route="/v1/ping",status_class="2xx"'));
    // Which child took which ping is the kernel's choice; the sum over children is exact, and
    // both children's registries are in the page.
    expect(series.reduce((n, m) => n + Number(m[2]), 0)).toBe(sent);
    const children = new Set([...metrics.matchAll(/^drover_connections_accepted_total\{child="(\d+)"\} \d+$/gm)].map((m) => m[1]));
    expect(children.size).toBe(2);
    expect(metrics).toMatch(/^drover_children\{state="ready"\} 2$/m);
    expect(metrics).toMatch(/^drover_http_request_duration_seconds_bucket\{le="300",route="\/v1\/ping",status_class="2xx"\} 57$/m);
    // Children accept from the shared socket: every ping came in that way, none through the supervisor.
    const accepted = [...metrics.matchAll(/^drover_connections_accepted_total\{child="\d+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(accepted).toBeGreaterThanOrEqual(sent);
    expect(metrics).not.toMatch(/^drover_connections_handed_total\{/m);
    const status = (await request(`http://127.0.0.1:${port}/status`)).json<{ totals: { ready: number } }>();
    expect(status.totals.ready).toBe(2);
    await d.stop();
  });

  it('refuses a non-loopback admin address without allow_remote', async () => {
    const d = await startDrover({ args: ['start', '--port', '0'], env: { DROVER_ADMIN__HOST: '0.0.0.0' }, waitStarted: false });
    const { code } = await d.exited;
    expect(code).toBe(3);
    expect(d.stderr).toMatch(/admin/);
    expect(d.stderr).toMatch(/allow_remote/);
    expect(d.logs.some((l) => l.msg === 'listening')).toBe(false);
  });

  it('with allow_remote, the admin endpoint needs the token', async () => {
    const d = await startDrover({ args: ['start', '--port', '0'], env: { DROVER_ADMIN__HOST: '0.0.0.0', DROVER_ADMIN__ALLOW_REMOTE: 'true', DROVER_ADMIN__TOKEN: 'tok-123' } });
    const port = await adminPort(d);
    expect((await request(`http://127.0.0.1:${port}/status`)).status).toBe(401);
    expect((await request(`http://127.0.0.1:${port}/status`, { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
    await d.stop();
  });
});

describe('config reload', () => {
  it('a reload with a broken config is refused and the old config keeps serving', async () => {
    const dir = tempDir();
    const file = `${dir}/drover.toml`;
    writeFileSync(file, '[supervisor]\nchildren = 2\n');
    const d = await startDrover({ args: ['start', '--port', '0', '-c', file] });
    const before = d.childPids().sort();
    writeFileSync(file, '[supervisor]\nchildren = 2\nshutdown_timeout = "ten"\n');
    d.signal('SIGHUP');
    const refused = await d.waitLog((l) => l.msg.startsWith('reload refused'), 15_000, 'reload refused');
    expect(String(refused.error)).toMatch(/drover\.toml:3: supervisor\.shutdown_timeout/);
    expect(d.childPids().sort()).toEqual(before);
    expect((await request(d.url('/v1/ping'))).status).toBe(200);
    writeFileSync(file, '[supervisor]\nchildren = 2\nshutdown_timeout = 10\n');
    d.signal('SIGHUP');
    await d.waitLog((l) => l.msg === 'reload done', 30_000, 'reload done');
    expect(d.logs.some((l) => l.msg === 'config reloaded')).toBe(true);
    await d.stop();
  });
});

describe('invalid configs never start the supervisor', () => {
  const cases: [string, RegExp][] = [
    ['[server]\nport = "eighty"\n', /drover\.toml:2: server\.port/],
    ['[server]\nport = 70000\n', /drover\.toml:2: server\.port/],
    ['[server\nport = 1\n', /drover\.toml:1/],
    ['[supervisor]\nshutdown_timout = 5\n', /did you mean shutdown_timeout/],
    ['[supervisor]\nchildren = 0\n', /drover\.toml:2: supervisor\.children/],
    ['[supervisor]\nchildren = "lots"\n', /drover\.toml:2: supervisor\.children/],
    ['[balancer]\nstrategy = "round-robin"\n', /drover\.toml:2: unknown key balancer\.strategy \(removed/],
    ['[balancer]\nqueue_limit = -1\n', /drover\.toml:2: balancer\.queue_limit/],
    ['[admin]\nallow_remote = "yes"\n', /drover\.toml:2: admin\.allow_remote/],
    ['[autoscale]\nmin_children = 5\nmax_children = 2\n', /max_children/],
    ['[autoscale]\ntolerance = 2\n', /drover\.toml:2: autoscale\.tolerance/],
    ['[executor]\nthreads = 1.5\n', /drover\.toml:2: executor\.threads/],
    ['[executor]\nlease = -3\n', /drover\.toml:2: executor\.lease/],
    ['[store]\nbackend = "mongo"\n', /drover\.toml:2: store\.backend/],
    ['[[auth.keys]]\nsha256 = "abc"\ntenant = "t"\n', /drover\.toml:2: auth\.keys/],
    ['[limits]\nburst = 0\n', /drover\.toml:2: limits\.burst/],
    ['[llm.providers.openai]\nmodel = 4\n', /drover\.toml:2: llm\.providers\.openai\.model/],
    ['[log]\nlevel = "loud"\n', /drover\.toml:2: log\.level/],
    ['[serverz]\nport = 1\n', /unknown key serverz \(did you mean server\?\)/],
    ['port = 8080\n', /unknown key port/],
  ];

  it(`${cases.length} invalid configs each exit 3 naming the key and line, before listening`, async () => {
    const results = await Promise.all(cases.map(async ([toml]) => {
      // No --port flag: a flag would override (and so hide) a bad server.port in the file.
      const d = await startDrover({ args: ['start'], config: toml, waitStarted: false });
      return { d, ...(await d.exitWithin(20_000)) };
    }));
    results.forEach(({ d, code }, i) => {
      expect(code, cases[i]![0]).toBe(3);
      expect(d.stderr.trim().split('\n')[0], cases[i]![0]).toMatch(cases[i]![1]);
      expect(d.logs.some((l) => l.msg === 'listening'), cases[i]![0]).toBe(false);
    });
  });

  it('a bad environment override names the variable', async () => {
    const d = await startDrover({ args: ['start'], env: { DROVER_SERVER__PORT: 'abc' }, waitStarted: false });
    expect((await d.exitWithin(20_000)).code).toBe(3);
    expect(d.stderr).toMatch(/DROVER_SERVER__PORT/);
  });
});

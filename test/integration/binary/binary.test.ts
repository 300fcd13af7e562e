import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';
import { CHURN_ROUNDS } from '../../helpers/churn.ts';
import { startRedis } from '../../helpers/redis.ts';
import { submitAndPingWhileLocked } from '../../helpers/write-lock.ts';

afterAll(stopAll);

// The binary is built once here (esbuild + SEA + postject, about 5 s) and copied alone into
// an empty directory, so nothing from the source tree or node_modules can help it.
let bin = '';
let dir = '';
beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdio: 'pipe' });
  dir = tempDir('drover-bin-');
  bin = join(dir, 'drover');
  copyFileSync(join(ROOT, 'dist/drover'), bin);
}, 120_000);

describe('the single binary', () => {
  it('prints its version alone in an empty directory', () => {
    const pkg = JSON.parse(execFileSync(process.execPath, ['-p', 'JSON.stringify(require("./package.json"))'], { cwd: ROOT, encoding: 'utf8' })) as { version: string };
    expect(readdirSync(dir)).toEqual(['drover']);
    expect(execFileSync(bin, ['--version'], { cwd: dir, encoding: 'utf8' }).trim()).toBe(pkg.version);
  });

  it('starts, serves /v1/ping, reloads and stops', async () => {
    const d = await startDrover({ bin, cwd: dir, args: ['start', '--port', '0', '--children', '2'] });
    const before = d.childPids();
    expect(before).toHaveLength(2);
    const r = await request(d.url('/v1/ping'));
    expect(r.status).toBe(200);
    expect(before).toContain(r.json<{ pid: number }>().pid);
    d.signal('SIGHUP');
    await d.waitLog((l) => l.msg === 'reload done', 30_000, 'reload done');
    const after = d.childPids();
    expect(after).toHaveLength(2);
    for (const p of after) expect(before).not.toContain(p);
    expect((await request(d.url('/v1/ping'))).status).toBe(200);
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });

  // V8 flags reach a single executable's children only through NODE_OPTIONS (test/integration/supervisor/child-heap.test.ts has the uncapped control).
  it("keeps a child's nursery within executor.main_semi_space_mb and its agents' NODE_OPTIONS the operator's", async () => {
    const operator = '--max-old-space-size=3072';
    const d = await startDrover({ bin, cwd: dir, testRoutes: true, args: ['start', '--port', '0', '--children', '1'], env: { NODE_OPTIONS: operator, DROVER_EXECUTOR__MAIN_SEMI_SPACE_MB: '1' } });
    const r = await request(d.url(`/debug/churn?rounds=${CHURN_ROUNDS}`), { method: 'POST' });
    expect(r.status).toBe(200);
    const { newSpace, nodeOptions } = r.json<{ newSpace: number; nodeOptions: string | null }>();
    // Uncapped it reaches 64 MiB (test/integration/supervisor/child-heap.test.ts).
    expect(newSpace).toBeLessThan(32 * 1024 * 1024);
    expect(nodeOptions).toBe(operator);
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });

  // The store thread starts from a file the binary's child writes out, as the executor's do.
  it("keeps a child answering while another process holds the store's write lock", async () => {
    const state = tempDir('drover-bin-state-');
    const d = await startDrover({ bin, cwd: dir, args: ['start', '--port', '0', '--children', '1'], env: { DROVER_SUPERVISOR__STATE_DIR: state } });
    expect(await submitAndPingWhileLocked((p) => d.url(p), join(state, 'drover.db'))).toEqual({ ping: 200, submissionWaiting: true, submission: 202 });
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });

  it('runs the built-in example agent end to end: a task and a chat turn', async () => {
    const runtime = tempDir('drover-bin-run-');
    const d = await startDrover({ bin, cwd: dir, args: ['start', '--port', '0', '--children', '2'], env: { DROVER_SUPERVISOR__RUNTIME_DIR: runtime } });
    const post = (path: string, body: unknown) =>
      request(d.url(path), { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

    const task = await post('/v1/tasks?wait=10', { input: 'what is drover?' });
    expect(task.status).toBe(200);
    // The agent ran in an executor thread, used its tool, and asked the child's own mock LLM.
    expect(task.json()).toMatchObject({ status: 'succeeded', attempt: 1, result: { content: 'echo: what is drover?', words: 3, turn: 1 } });

    expect((await post('/v1/sessions/s1/messages?wait=10', { message: 'hello' })).json()).toMatchObject({ result: { turn: 1 } });
    expect((await post('/v1/sessions/s1/messages?wait=10', { message: 'again' })).json()).toMatchObject({ result: { content: 'echo: again', turn: 2 } });

    // The executor's files came out of the binary into one private directory.
    const extracted = readdirSync(runtime).filter((f) => f.startsWith('executor-'));
    expect(extracted).toHaveLength(1);
    expect(statSync(join(runtime, extracted[0]!)).mode & 0o777).toBe(0o700);
    expect(await d.stop()).toEqual({ code: 0, signal: null });
    // …and are gone once it stopped.
    expect(readdirSync(runtime).filter((f) => f.startsWith('executor-'))).toEqual([]);
  });

  // Fleet mode from the binary: the Redis store's Lua scripts are embedded by the build.
  it('runs the example agent on the Redis store: a task with its tool call and progress events', async () => {
    const redis = await startRedis();
    try {
      const d = await startDrover({
        bin, cwd: dir, args: ['start', '--port', '0', '--children', '1'],
        env: { DROVER_STORE__BACKEND: 'redis', DROVER_STORE__URL: redis.url, DROVER_STORE__PREFIX: 'bin' },
      });
      const task = await request(d.url('/v1/tasks?wait=10'), {
        method: 'POST', body: JSON.stringify({ input: 'from the binary' }), headers: { 'content-type': 'application/json' },
      });
      expect(task.status).toBe(200);
      const done = task.json<{ id: string; status: string; result: unknown }>();
      expect(done).toMatchObject({ status: 'succeeded', result: { content: 'echo: from the binary', words: 3 } });
      const events = (await request(d.url(`/v1/tasks/${done.id}/events`))).body;
      expect(events).toContain('"step":"tool"');
      expect(events).toContain('"step":"llm"');
      expect(await d.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await redis.stop();
    }
  });

  it('reuses executor files a killed run left behind only as they should be', async () => {
    const runtime = tempDir('drover-bin-run-');
    const args = ['start', '--port', '0', '--children', '1'];
    const first = await startDrover({ bin, cwd: dir, args, env: { DROVER_SUPERVISOR__RUNTIME_DIR: runtime } });
    first.killGroup();
    await first.exited;
    const [left] = readdirSync(runtime).filter((f) => f.startsWith('executor-'));
    expect(left).toBeDefined();
    // A file that is not what the binary carries is written again, not run.
    writeFileSync(join(runtime, left!, 'agent.mjs'), "throw new Error('not the agent drover shipped');\n");
    const d = await startDrover({ bin, cwd: dir, args, env: { DROVER_SUPERVISOR__RUNTIME_DIR: runtime } });
    const task = await request(d.url('/v1/tasks?wait=10'), { method: 'POST', body: JSON.stringify({ input: 'hi' }), headers: { 'content-type': 'application/json' } });
    expect(task.json()).toMatchObject({ status: 'succeeded', result: { content: 'echo: hi' } });
    expect(await d.stop()).toEqual({ code: 0, signal: null });
    expect(readdirSync(runtime).filter((f) => f.startsWith('executor-'))).toEqual([]);
  });

  it('prints the agent types, which compile as a declaration file', () => {
    const types = execFileSync(bin, ['types'], { cwd: dir, encoding: 'utf8' });
    expect(types).toBe(readFileSync(join(ROOT, 'src/agent/types.ts'), 'utf8'));
    writeFileSync(join(dir, 'drover.d.ts'), types);
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', join(dir, 'drover.d.ts')], { cwd: ROOT });
    rmSync(join(dir, 'drover.d.ts'));
  });

  it('prints the routes plugin types, which need nothing but fastify\'s', () => {
    const types = execFileSync(bin, ['types', 'routes'], { cwd: dir, encoding: 'utf8' });
    expect(types).toBe(readFileSync(join(ROOT, 'src/http/plugin-types.ts'), 'utf8'));
    expect([...types.matchAll(/from '([^']+)'/g)].map((m) => m[1])).toEqual(['fastify']);
  });

  it('serves the routes of a .mjs plugin beside its config, which submit tasks', async () => {
    const conf = tempDir('drover-bin-conf-');
    writeFileSync(join(conf, 'routes.mjs'), [
      'export default async function routes(app, drover) {',
      "  app.post('/hooks/echo', async (request, reply) => {",
      '    const { task } = await drover.tasks.submit(request, { input: String(request.body.text) });',
      '    return reply.code(202).send({ accepted: task.id, child: drover.child });',
      '  });',
      '}',
      '',
    ].join('\n'));
    writeFileSync(join(conf, 'drover.toml'), '[http]\nplugin = "./routes.mjs"\n');
    const d = await startDrover({ bin, cwd: dir, args: ['start', '--port', '0', '--children', '1', '-c', join(conf, 'drover.toml')] });
    const hook = await request(d.url('/hooks/echo'), { method: 'POST', body: JSON.stringify({ text: 'hi' }), headers: { 'content-type': 'application/json' } });
    expect(hook.status).toBe(202);
    const { accepted } = hook.json<{ accepted: string }>();
    expect((await request(d.url(`/v1/tasks/${accepted}?wait=10`))).json()).toMatchObject({ status: 'succeeded', result: { content: 'echo: hi' } });
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });

  it('check-config loads the agent module and names its file and line on a syntax error', () => {
    const agent = join(tempDir(), 'agent.mjs');
    writeFileSync(agent, 'export default async function run(input) {\n  return input +;\n}\n');
    let failed: { status: number; stderr: string } | undefined;
    try {
      execFileSync(bin, ['check-config'], { cwd: dir, encoding: 'utf8', stdio: 'pipe', env: { ...process.env, DROVER_EXECUTOR__AGENT: agent } });
    } catch (err) {
      failed = err as { status: number; stderr: string };
    }
    expect(failed?.status).toBe(3);
    expect(failed?.stderr.trim()).toBe(`drover: DROVER_EXECUTOR__AGENT: executor.agent: ${agent}:2: SyntaxError: Unexpected token ';'`);
  });

  it('serves the status page from its embedded assets, with uPlot inlined, and its live view', async () => {
    const d = await startDrover({ bin, cwd: dir, args: ['start', '--port', '0', '--children', '2'] });
    const admin = `http://127.0.0.1:${String((await d.waitLog((l) => l.msg === 'admin listening')).port)}`;
    const page = await request(`${admin}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<section id="children"');
    expect(page.body).toContain('uPlot');
    expect(page.body).not.toMatch(/<script src=|<link rel="stylesheet"/);
    const view = await firstEvent(`${admin}/events`);
    expect(view.status.children).toHaveLength(2);
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });
});

/** The first server-sent event's data, parsed; the stream is closed after it. */
function firstEvent(url: string): Promise<{ status: { children: unknown[] } }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        buf += c;
        const end = buf.indexOf('\n\n');
        if (end < 0) return;
        res.destroy();
        resolve(JSON.parse(buf.slice('data: '.length, end)) as { status: { children: unknown[] } });
      });
    }).on('error', reject);
  });
}

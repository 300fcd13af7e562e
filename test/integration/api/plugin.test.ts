// A user's own routes ([http] plugin): served by every child behind the API keys, submitting
// and reading tasks through `drover`; a plugin that fails to load stops start and check-config
// with one line naming its file, before any child is forked.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { cli } from '../../helpers/cli.ts';
import { call, keysToml, AGENT } from './support.ts';

afterAll(stopAll);

const A = 'key-of-tenant-a-0123456789';
const B = 'key-of-tenant-b-9876543210';
const C = 'key-of-tenant-c-5555555555';

// A .ts plugin typed against src/http/plugin-types.ts, as the README shows one.
const ROUTES = `import type { DroverPlugin, SubmitTask } from '${join(ROOT, 'src/http/plugin-types.ts')}';

const routes: DroverPlugin = async (app, drover) => {
  app.post('/hooks/build', async (request, reply) => {
    const { task } = await drover.tasks.submit(request, { input: request.body, priority: 5 });
    return reply.code(202).send({ accepted: task.id, status: task.status });
  });
  // A synchronous façade: submit, then answer with the result.
  app.post('/hooks/sync', async (request, reply) => {
    const { task } = await drover.tasks.submit(request, { input: request.body });
    const done = await drover.tasks.wait(reply, task.id, 10);
    return { status: done?.status, result: done?.result };
  });
  app.post('/hooks/raw', async (request, reply) => reply.code(202).send((await drover.tasks.submit(request, request.body as SubmitTask)).task));
  app.get('/hooks/limited', { onRequest: (request, reply) => drover.rateLimit(request, reply) }, async () => ({ ok: true }));
  app.get('/hooks/who', async (request) => {
    await new Promise((r) => setTimeout(r, Number((request.query as { ms?: string }).ms ?? 0)));
    return { tenant: request.tenant, child: drover.child, pid: process.pid };
  });
  app.get('/hooks/tasks/:id', async (request) => {
    const task = await drover.tasks.get(request, (request.params as { id: string }).id);
    if (!task) throw drover.error(404, 'NO_SUCH_BUILD', 'no such build');
    return { status: task.status, input: task.input };
  });
};
export default routes;
`;

/** A directory holding drover.toml (which names the plugin relative to itself) and the plugin. */
function configDir(plugin: { name: string; text: string }, extra = ''): string {
  const dir = tempDir('drover-plugin-');
  writeFileSync(join(dir, plugin.name), plugin.text);
  writeFileSync(join(dir, 'drover.toml'), `[http]\nplugin = "./${plugin.name}"\n\n${extra}`);
  return dir;
}

describe('a routes plugin', () => {
  it('answers through the supervisor on every child, behind the API keys, and submits tasks as the API does', async () => {
    // A small bucket per tenant: plugin routes draw from it only where they ask to.
    const limits = '[limits]\nrate_per_second = 0.1\nburst = 3\n\n';
    const dir = configDir({ name: 'routes.ts', text: ROUTES }, limits + keysToml({ 'tenant-a': A, 'tenant-b': B, 'tenant-c': C }));
    // Started elsewhere: the plugin's path is relative to the config file, not to the cwd.
    const d = await startDrover({
      args: ['start', '--port', '0', '--children', '2', '-c', join(dir, 'drover.toml')],
      env: { DROVER_EXECUTOR__AGENT: AGENT, DROVER_EXECUTOR__POLL_INTERVAL: '0.05' },
    });

    const anonymous = await call(d, 'GET', '/hooks/who');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    expect((await call(d, 'GET', '/hooks/who', { key: 'not-a-key' })).json()).toMatchObject({ error: { code: 'INVALID_API_KEY' } });

    // Requests that overlap spread over the children: each one serves the route.
    const who = await Promise.all(Array.from({ length: 10 }, () => call(d, 'GET', '/hooks/who?ms=300', { key: A })));
    for (const r of who) expect(r.json()).toMatchObject({ tenant: 'tenant-a' });
    expect(new Set(who.map((r) => r.json<{ pid: number }>().pid))).toEqual(new Set(d.childPids()));
    expect(new Set(who.map((r) => r.json<{ child: number }>().child)).size).toBe(2);

    // Ten plugin requests of tenant-a above, past its burst of 3: only a route that asks is limited.
    const limited = [];
    for (let i = 0; i < 4; i++) limited.push(await call(d, 'GET', '/hooks/limited', { key: C }));
    expect(limited.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(limited[0]!.headers['ratelimit-remaining']).toBe('2');
    expect(limited[3]!.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(limited[3]!.headers['retry-after']).toBeDefined();

    // The webhook enqueues for the caller's tenant and answers 202; /v1 sees the same task.
    const hook = await call(d, 'POST', '/hooks/build', { key: A, body: { result: { built: 'abc123' } } });
    expect(hook.status).toBe(202);
    const { accepted } = hook.json<{ accepted: string }>();
    expect(accepted).toMatch(/^t_/);
    const task = await call(d, 'GET', `/v1/tasks/${accepted}?wait=10`, { key: A });
    expect(task.json()).toMatchObject({ status: 'succeeded', priority: 5, result: { built: 'abc123' } });
    expect((await call(d, 'GET', `/hooks/tasks/${accepted}`, { key: A })).json()).toEqual({ status: 'succeeded', input: { result: { built: 'abc123' } } });
    expect((await call(d, 'POST', '/hooks/sync', { key: B, body: { hold_ms: 200, result: 'done' } })).json()).toEqual({ status: 'succeeded', result: 'done' });
    // Another tenant sees neither, and the plugin's own error arrives in drover's shape.
    expect((await call(d, 'GET', `/v1/tasks/${accepted}`, { key: B })).status).toBe(404);
    const other = await call(d, 'GET', `/hooks/tasks/${accepted}`, { key: B });
    expect(other.status).toBe(404);
    expect(other.json()).toEqual({ error: { code: 'NO_SUCH_BUILD', message: 'no such build' } });
    // A task the API would refuse is refused here too, and so is a body that is not JSON.
    const priority = await call(d, 'POST', '/hooks/raw', { key: A, body: { input: 1, priority: 5000 } });
    expect(priority.status).toBe(400);
    expect(priority.json()).toMatchObject({ error: { code: 'INVALID_REQUEST', message: expect.stringContaining('task.priority') } });
    const bad = await call(d, 'POST', '/hooks/build', { key: A, body: '{"a":' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });

    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });

  it.each([
    ['at its top level', 'export default async function routes(app) {}\nthrow new Error("ROUTES_DB_URL is not set");\n', 2, 'Error: ROUTES_DB_URL is not set'],
    ['while it registers', 'export default async function routes(app) {\n  app.get("/a", async () => 1);\n  app.get("/a", async () => 2);\n}\n', 3, "FastifyError: Method 'GET' already declared for route '/a'"],
    ['with no plugin as its default export', 'export const routes = 1;\n', undefined, 'must export a fastify plugin'],
  ])('that fails %s stops start before any child is forked, and check-config says why', async (_, text, line, error) => {
    const dir = configDir({ name: 'routes.mjs', text });
    const config = join(dir, 'drover.toml');
    const file = join(dir, 'routes.mjs');
    const where = line === undefined ? '' : `${file}:${line}: `;

    const d = await startDrover({ args: ['start', '--port', '0', '-c', config], waitStarted: false });
    const { code } = await d.exitWithin(30_000);
    expect(code).toBe(3);
    const lines = d.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`drover: ${config}:2: http.plugin: ${where}`);
    expect(lines[0]).toContain(error);
    expect(d.logs.filter((l) => l.role === 'child' || /child/.test(l.msg))).toEqual([]);

    const checked = await cli(['check-config', '-c', config]);
    expect(checked.code).toBe(3);
    expect(checked.stderr.trim()).toBe(lines[0]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';
import { openSse } from '../../helpers/sse.ts';
import { call, keysToml, startApi, type Api } from './support.ts';

const A = 'key-of-tenant-a-0123456789';
const B = 'key-of-tenant-b-9876543210';

let api: Api;

beforeAll(async () => {
  api = await startApi({ config: keysToml({ 'tenant-a': A, 'tenant-b': B }) });
});
afterAll(async () => {
  await api?.close();
  await stopAll();
});

describe('API keys', () => {
  it('refuses a request without a valid key with 401 and a Bearer challenge', async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, 'UNAUTHORIZED'],
      [{ authorization: 'Bearer wrong-key' }, 'INVALID_API_KEY'],
      [{ authorization: `Basic ${Buffer.from(`u:${A}`).toString('base64')}` }, 'UNAUTHORIZED'],
      [{ authorization: 'Bearer' }, 'UNAUTHORIZED'],
      [{ 'x-api-key': 'wrong-key' }, 'INVALID_API_KEY'],
    ];
    for (const [headers, code] of cases) {
      const r = await call(api.d, 'POST', '/v1/tasks', { body: { input: 1 }, headers });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.json()).toEqual({ error: { code, message: expect.any(String) } });
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect((await call(api.d, 'GET', '/v1/tasks')).status).toBe(401);
  });

  it('accepts the key as a Bearer token (any case of the scheme) or in X-API-Key', async () => {
    const bearer = await call(api.d, 'GET', '/v1/tasks', { key: A });
    const lower = await call(api.d, 'GET', '/v1/tasks', { headers: { authorization: `bearer ${A}` } });
    const header = await call(api.d, 'GET', '/v1/tasks', { headers: { 'x-api-key': A } });
    for (const r of [bearer, lower, header]) expect(r.status).toBe(200);
  });

  it('leaves health, readiness and ping open to load balancers', async () => {
    for (const path of ['/healthz', '/readyz', '/v1/ping']) expect((await request(api.d.url(path))).status).toBe(200);
  });
});

describe('tenant isolation', () => {
  it("another tenant's task is a 404 everywhere (get, wait, events, cancel) and absent from its list", async () => {
    const created = await call(api.d, 'POST', '/v1/tasks', { key: A, body: { input: { hold_ms: 400 }, idempotency_key: 'shared-key' } });
    expect(created.status).toBe(202);
    const id = created.json<{ id: string }>().id;
    const asB = (method: string, path: string) => call(api.d, method, path, { key: B });
    for (const r of [await asB('GET', `/v1/tasks/${id}`), await asB('GET', `/v1/tasks/${id}?wait=1`), await asB('DELETE', `/v1/tasks/${id}`)]) {
      expect(r.status).toBe(404);
      expect(r.json<{ error: { code: string } }>().error.code).toBe('TASK_NOT_FOUND');
    }
    const events = await openSse(api.d.url(`/v1/tasks/${id}/events`), { headers: { authorization: `Bearer ${B}` } });
    expect(events.status).toBe(404);
    expect((await asB('GET', '/v1/tasks')).json<{ tasks: { id: string }[] }>().tasks.map((t) => t.id)).not.toContain(id);
    // Idempotency keys are per tenant too: B's same key makes B's own task.
    const bTask = await call(api.d, 'POST', '/v1/tasks', { key: B, body: { input: 1, idempotency_key: 'shared-key' } });
    expect(bTask.status).toBe(202);
    expect(bTask.json<{ id: string }>().id).not.toBe(id);
    // A still sees and owns its task.
    expect((await call(api.d, 'GET', `/v1/tasks/${id}?wait=10`, { key: A })).json()['status']).toBe('succeeded');
  });

  it("another tenant's session is a 404, and the same session id names a separate session per tenant", async () => {
    const turn = await call(api.d, 'POST', '/v1/sessions/support-1/messages?wait=10', { key: A, body: { message: 'hello from a' } });
    expect(turn.status).toBe(200);
    const asB = (method: string) => call(api.d, method, '/v1/sessions/support-1', { key: B });
    for (const r of [await asB('GET'), await asB('DELETE')]) {
      expect(r.status).toBe(404);
      expect(r.json<{ error: { code: string } }>().error.code).toBe('SESSION_NOT_FOUND');
    }
    await call(api.d, 'POST', '/v1/sessions/support-1/messages?wait=10', { key: B, body: { message: 'hello from b' } });
    const a = (await call(api.d, 'GET', '/v1/sessions/support-1', { key: A })).json<{ messages: { content: string }[] }>();
    const b = (await call(api.d, 'GET', '/v1/sessions/support-1', { key: B })).json<{ messages: { content: string }[] }>();
    expect(a.messages.map((m) => m.content)).toEqual(['hello from a', 'echo: hello from a']);
    expect(b.messages.map((m) => m.content)).toEqual(['hello from b', 'echo: hello from b']);
  });
});

// The supervisor must refuse before it listens; the check is checkAuthBind() in
// src/http/api/auth.ts, called by the CLI's start and check-config commands.

describe('anonymous access', () => {
  it('refuses to start with no API keys on a non-loopback address', async () => {
    // 192.0.2.1 (TEST-NET-1) is on no interface here: were the check missing, listening would
    // fail with a different error, and nothing is ever exposed.
    const d = await startDrover({ args: ['start', '--port', '0', '--host', '192.0.2.1'], waitStarted: false });
    const { code } = await d.exited;
    expect(code).toBe(3);
    expect(d.stderr).toMatch(/not a loopback address and no \[\[auth\.keys\]\]/);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('serves one anonymous tenant on loopback when no keys are configured', async () => {
    const d = await startDrover({ env: { DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2' } });
    const r = await request(d.url('/v1/tasks'));
    expect(r.status).toBe(200);
    await d.stop();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll } from '../../helpers/drover.ts';
import { sleep } from '../../helpers/http.ts';
import { ANONYMOUS_TENANT } from '../../../src/http/api/auth.ts';
import { call, startApi, until, type Api } from './support.ts';

interface TaskBody {
  id: string;
  status: string;
  attempt: number;
  attempts: { n: number; error: { code: string; message: string } | null; started_at: string; finished_at: string | null }[];
  finished_at: string | null;
  result: unknown;
  error: { code: string } | null;
  idempotency_key: string | null;
  input?: unknown;
  links: { self: string; events: string; session?: string };
}

let api: Api;

beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api?.close();
  await stopAll();
});

const post = (body: unknown, query = '', headers: Record<string, string> = {}) => call(api.d, 'POST', `/v1/tasks${query}`, { body, headers });
const get = (path: string, headers: Record<string, string> = {}) => call(api.d, 'GET', path, { headers });

describe('POST /v1/tasks', () => {
  it('accepts a task with 202, links and Location, and it runs to a result that GET shows', async () => {
    const r = await post({ input: { steps: 1, result: { ok: 'yes' } }, priority: 5, max_attempts: 2, timeout_s: 30 });
    expect(r.status).toBe(202);
    const t = r.json<TaskBody>();
    expect(t.status).toBe('queued');
    expect(t.links).toEqual({ self: `/v1/tasks/${t.id}`, events: `/v1/tasks/${t.id}/events` });
    expect(r.headers['location']).toBe(t.links.self);
    expect(r.headers['ratelimit-limit']).toBe('40');

    await until(await api.store(), ANONYMOUS_TENANT, t.id, (x) => x.status === 'succeeded');
    const g = await get(t.links.self);
    expect(g.status).toBe(200);
    expect(g.json()).toMatchObject({ id: t.id, status: 'succeeded', attempt: 1, max_attempts: 2, timeout_s: 30, priority: 5, result: { ok: 'yes' }, input: { steps: 1, result: { ok: 'yes' } } });
    expect(g.json()['finished_at']).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('a task that succeeds on its second attempt shows both attempts, and no error of its own', async () => {
    const r = await post({ input: { fail_attempts: 1, result: 'second time' }, max_attempts: 3 }, '?wait=20');
    expect(r.status).toBe(200);
    const t = r.json<TaskBody>();
    expect(t).toMatchObject({ status: 'succeeded', attempt: 2, result: 'second time', error: null });
    expect(t.attempts).toEqual([
      { n: 1, error: { code: 'FLAKY', message: 'attempt 1 fails' }, started_at: expect.any(String), finished_at: expect.any(String) },
      { n: 2, error: null, started_at: expect.any(String), finished_at: t.finished_at },
    ]);
    expect(Date.parse(t.attempts[1]!.started_at)).toBeGreaterThanOrEqual(Date.parse(t.attempts[0]!.finished_at!));
    expect((await get(`/v1/tasks/${t.id}`)).json<TaskBody>().attempts).toEqual(t.attempts);
  });

  it('?wait=N answers 200 with the result once the task finishes, 202 if it is still running after N s', async () => {
    const done = await post({ input: { steps: 2, delay_ms: 100, result: 7 } }, '?wait=10');
    expect(done.status).toBe(200);
    expect(done.json<TaskBody>()).toMatchObject({ status: 'succeeded', result: 7 });

    const t0 = Date.now();
    const slow = await post({ input: { hold_ms: 5000 } }, '?wait=0.5');
    expect(slow.status).toBe(202);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(['queued', 'running']).toContain(slow.json<TaskBody>().status);
    expect((await call(api.d, 'DELETE', `/v1/tasks/${slow.json<TaskBody>().id}`)).status).toBe(202);
  });

  it('honours Prefer: wait=N, and GET /v1/tasks/:id?wait=N long-polls too', async () => {
    const r = await post({ input: { steps: 1, delay_ms: 50, result: 'p' } }, '', { prefer: 'respond-async, wait=10' });
    expect(r.status).toBe(200);
    expect(r.json<TaskBody>().result).toBe('p');

    const queued = await post({ input: { hold_ms: 300, result: 'later' } });
    const polled = await get(`/v1/tasks/${queued.json<TaskBody>().id}?wait=10`);
    expect(polled.status).toBe(200);
    expect(polled.json<TaskBody>()).toMatchObject({ status: 'succeeded', result: 'later' });
  });

  it('the same idempotency key returns the same task: 202 with Idempotent-Replayed while it runs, 200 once finished', async () => {
    const body = { input: { hold_ms: 400, result: 'once' }, idempotency_key: 'order-17' };
    const first = await post(body);
    const again = await post(body);
    expect(first.status).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<TaskBody>().id).toBe(first.json<TaskBody>().id);
    // The header form of the key names the same task; the body's fields may come in any order.
    const header = await post({ input: { result: 'once', hold_ms: 400 } }, '?wait=10', { 'idempotency-key': 'order-17' });
    expect(header.status).toBe(200);
    expect(header.json<TaskBody>()).toMatchObject({ id: first.json<TaskBody>().id, result: 'once' });
    const list = (await get('/v1/tasks?limit=200')).json<{ tasks: TaskBody[] }>().tasks;
    expect(list.filter((t) => t.id === first.json<TaskBody>().id)).toHaveLength(1);
  });

  it('the same idempotency key with another request is 409 IDEMPOTENCY_MISMATCH, and nothing is enqueued', async () => {
    const first = await post({ input: { amount: 100 }, idempotency_key: 'pay-1' }, '?wait=10');
    expect(first.status).toBe(200);
    const mismatch = (expected: string) => ({ error: { code: 'IDEMPOTENCY_MISMATCH', message: `idempotency key "pay-1" was first used for another request (task ${first.json<TaskBody>().id})` }, expected });
    for (const [what, r] of [
      ['another input', await post({ input: { amount: 200 }, idempotency_key: 'pay-1' })],
      ['another option', await post({ input: { amount: 100 }, priority: 9 }, '', { 'idempotency-key': 'pay-1' })],
      ['a chat turn', await call(api.d, 'POST', '/v1/sessions/pay/messages', { body: { message: 'hi' }, headers: { 'idempotency-key': 'pay-1' } })],
    ] as const) {
      expect(r.status, what).toBe(409);
      expect({ ...r.json(), expected: what }).toEqual(mismatch(what));
    }
    const list = (await get('/v1/tasks?limit=200')).json<{ tasks: TaskBody[] }>().tasks;
    expect(list.filter((t) => t.idempotency_key === 'pay-1').map((t) => t.id)).toEqual([first.json<TaskBody>().id]);
  });
});

describe('GET /v1/tasks', () => {
  it('lists newest first, filters by status and pages with a cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post({ input: { result: i } }, '?wait=10')).json<TaskBody>().id);
    const page1 = (await get('/v1/tasks?limit=3&status=succeeded')).json<{ tasks: TaskBody[]; next_cursor: string }>();
    expect(page1.tasks.map((t) => t.id)).toEqual(ids.slice(2).reverse());
    expect(page1.tasks.every((t) => t.status === 'succeeded' && t.input === undefined)).toBe(true);
    const page2 = (await get(`/v1/tasks?limit=2&status=succeeded&cursor=${page1.next_cursor}`)).json<{ tasks: TaskBody[] }>();
    expect(page2.tasks.map((t) => t.id)).toEqual(ids.slice(0, 2).reverse());
    const none = (await get('/v1/tasks?status=dead')).json<{ tasks: TaskBody[]; next_cursor: string | null }>();
    expect(none).toEqual({ tasks: [], next_cursor: null });
  });
});

describe('DELETE /v1/tasks/:id', () => {
  it('cancels a queued task, which then never runs', async () => {
    // Turns of one session run one at a time: while the first holds the session, the second
    // stays queued whatever the executor's capacity.
    const blocker = await call(api.d, 'POST', '/v1/sessions/cancel-test/messages', { body: { message: 'hold 800' } });
    const queued = await call(api.d, 'POST', '/v1/sessions/cancel-test/messages', { body: { message: 'never' } });
    const id = queued.json<TaskBody>().id;
    expect(queued.json<TaskBody>().status).toBe('queued');
    const c = await call(api.d, 'DELETE', `/v1/tasks/${id}`);
    expect(c.status).toBe(200);
    expect(c.json<TaskBody>().status).toBe('cancelled');
    // Cancelled is finished: cancelling it again is refused like any finished task.
    const again = await call(api.d, 'DELETE', `/v1/tasks/${id}`);
    expect(again.status).toBe(409);
    expect(again.json()).toEqual({ error: { code: 'TASK_FINISHED', message: `task ${id} already finished (cancelled)` } });

    const b = await get(`/v1/tasks/${blocker.json<TaskBody>().id}?wait=10`);
    expect(b.json<TaskBody>().status).toBe('succeeded');
    await sleep(300);
    const after = (await get(`/v1/tasks/${id}`)).json<TaskBody>();
    expect(after).toMatchObject({ status: 'cancelled', attempt: 0, attempts: [], result: null });
  });

  it('cancels a running task (202 cancelling, then cancelled) and refuses a finished one with 409', async () => {
    const running = (await post({ input: { hold_ms: 20_000 } })).json<TaskBody>();
    await until(await api.store(), ANONYMOUS_TENANT, running.id, (t) => t.status === 'running');
    const c = await call(api.d, 'DELETE', `/v1/tasks/${running.id}`);
    expect(c.status).toBe(202);
    expect(c.json<TaskBody>().status).toBe('cancelling');
    expect((await get(`/v1/tasks/${running.id}?wait=10`)).json<TaskBody>().status).toBe('cancelled');
    expect((await call(api.d, 'DELETE', `/v1/tasks/${running.id}`)).status).toBe(409);

    const finished = (await post({ input: {} }, '?wait=10')).json<TaskBody>();
    const refused = await call(api.d, 'DELETE', `/v1/tasks/${finished.id}`);
    expect(refused.status).toBe(409);
    expect(refused.json()).toEqual({ error: { code: 'TASK_FINISHED', message: expect.any(String) } });
    expect((await call(api.d, 'DELETE', '/v1/tasks/t_0000000000000000000000000000000')).status).toBe(404);
  });
});

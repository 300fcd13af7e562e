import { afterAll, describe, expect, it } from 'vitest';
import { stopAll } from '../../helpers/drover.ts';
import { request, sleep } from '../../helpers/http.ts';
import { call, connectionsByChild, keysToml, PINNED_CONNECTIONS, startApi } from './support.ts';

afterAll(stopAll);

const A = 'tenant-a-key-limits';
const B = 'tenant-b-key-limits';

describe('per-tenant rate limit', () => {
  it('answers 429 with Retry-After past the burst, shares the bucket across children, and keeps tenants apart', async () => {
    const api = await startApi({
      children: 2,
      config: keysToml({ a: A, b: B }),
      env: { ...PINNED_CONNECTIONS, DROVER_LIMITS__RATE_PER_SECOND: '1', DROVER_LIMITS__BURST: '3' },
    });
    // One connection to each child: the bucket lives in the store, so both draw from it.
    const conns = [...(await connectionsByChild(api.d, 2)).values()];
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await call(api.d, 'GET', '/v1/tasks', { key: A, agent: conns[i % 2]! }));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(replies.map((r) => r.headers['ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    for (const r of replies) {
      expect(r.headers['ratelimit-limit']).toBe('3');
      expect(Number(r.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
    }
    const refused = replies[3]!;
    expect(refused.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String) } });
    const retryAfter = Number(refused.headers['retry-after']);
    // 1/s refills a token every second; Retry-After rounds the wait up to whole seconds.
    expect(retryAfter).toBe(1);

    // The refusal is counted for its tenant, summed over both children.
    const admin = (await api.d.waitLog((l) => l.msg === 'admin listening')).port as number;
    const metrics = (await request(`http://127.0.0.1:${admin}/metrics`)).body;
    expect(metrics).toMatch(/^drover_rate_limited_total\{tenant="a"\} 1$/m);
    expect(metrics).not.toMatch(/^drover_rate_limited_total\{tenant="b"\}/m);

    // Tenant B has its own bucket; health checks have none.
    expect((await call(api.d, 'GET', '/v1/tasks', { key: B })).status).toBe(200);
    expect((await request(api.d.url('/healthz'))).status).toBe(200);

    await sleep(retryAfter * 1000);
    expect((await call(api.d, 'GET', '/v1/tasks', { key: A })).status).toBe(200);
    for (const c of conns) c.destroy();
    await api.close();
  });
});

describe('queue and body limits', () => {
  it('answers 503 QUEUE_FULL with Retry-After at store.queue_limit, and 413 above server.body_limit_bytes', async () => {
    const api = await startApi({ env: { DROVER_STORE__QUEUE_LIMIT: '3', DROVER_SERVER__BODY_LIMIT_BYTES: '2048' } });
    // Turns of one session wait for the one before, so the queue fills whatever the executor's size.
    const statuses: number[] = [];
    const ids: string[] = [];
    let full;
    for (let i = 0; i < 6 && !full; i++) {
      const r = await call(api.d, 'POST', '/v1/sessions/queue-test/messages', { body: { message: i === 0 ? 'hold 10000' : `m${i}` } });
      statuses.push(r.status);
      if (r.status === 503) full = r;
      else ids.push(r.json<{ id: string }>().id);
    }
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(full?.status).toBe(503);
    expect(full!.json()).toEqual({ error: { code: 'QUEUE_FULL', message: expect.any(String) } });
    expect(full!.headers['retry-after']).toBe('5');

    const big = await call(api.d, 'POST', '/v1/tasks', { body: { input: 'x'.repeat(4096) } });
    expect(big.status).toBe(413);
    expect(big.json<{ error: { code: string } }>().error.code).toBe('BODY_TOO_LARGE');

    // Cancelling frees the queue: submissions are accepted again.
    for (const id of ids) expect([200, 202]).toContain((await call(api.d, 'DELETE', `/v1/tasks/${id}`)).status);
    expect((await call(api.d, 'POST', '/v1/tasks', { body: { input: {} } })).status).toBe(202);
    await api.close();
  });
});

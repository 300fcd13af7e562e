import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';
import { keysToml, startApi, type Api } from './support.ts';

const KEY = 'malformed-test-key';
const auth = { authorization: `Bearer ${KEY}` };
const json = { ...auth, 'content-type': 'application/json' };

interface Case {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  status: number;
  code: string;
}

const ID = 't_0mwrk271a0000a76ceade8064c611';

const cases: Case[] = [
  { name: 'truncated JSON', method: 'POST', path: '/v1/tasks', headers: json, body: '{"input":', status: 400, code: 'INVALID_JSON' },
  { name: 'empty JSON body', method: 'POST', path: '/v1/tasks', headers: json, body: '', status: 400, code: 'INVALID_JSON' },
  { name: 'prototype pollution', method: 'POST', path: '/v1/tasks', headers: json, body: '{"input":1,"__proto__":{"admin":true}}', status: 400, code: 'INVALID_JSON' },
  { name: 'missing input', method: 'POST', path: '/v1/tasks', headers: json, body: '{"priority":1}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'unknown field', method: 'POST', path: '/v1/tasks', headers: json, body: '{"input":1,"priorty":1}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'priority as a string', method: 'POST', path: '/v1/tasks', headers: json, body: '{"input":1,"priority":"5"}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'fractional max_attempts', method: 'POST', path: '/v1/tasks', headers: json, body: '{"input":1,"max_attempts":1.5}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'timeout_s above limits.max_task_timeout', method: 'POST', path: '/v1/tasks', headers: json, body: '{"input":1,"timeout_s":99999}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'body is an array', method: 'POST', path: '/v1/tasks', headers: json, body: '[{"input":1}]', status: 400, code: 'INVALID_REQUEST' },
  { name: 'oversized idempotency key', method: 'POST', path: '/v1/tasks', headers: json, body: JSON.stringify({ input: 1, idempotency_key: 'k'.repeat(300) }), status: 400, code: 'INVALID_REQUEST' },
  { name: 'conflicting Idempotency-Key header', method: 'POST', path: '/v1/tasks', headers: { ...json, 'idempotency-key': 'a' }, body: '{"input":1,"idempotency_key":"b"}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'text/plain body', method: 'POST', path: '/v1/tasks', headers: { ...auth, 'content-type': 'text/plain' }, body: 'input=1', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'form body', method: 'POST', path: '/v1/tasks', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'input=1', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'body over server.body_limit_bytes', method: 'POST', path: '/v1/tasks', headers: json, body: JSON.stringify({ input: 'x'.repeat(8192) }), status: 413, code: 'BODY_TOO_LARGE' },
  { name: 'wait is not a number', method: 'POST', path: '/v1/tasks?wait=soon', headers: json, body: '{"input":1}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'negative wait', method: 'GET', path: `/v1/tasks/${ID}?wait=-1`, headers: auth, status: 400, code: 'INVALID_REQUEST' },
  { name: 'wait above limits.max_wait', method: 'POST', path: '/v1/tasks?wait=100000', headers: json, body: '{"input":1}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'malformed task id', method: 'GET', path: '/v1/tasks/..%2F..%2Fetc', headers: auth, status: 400, code: 'INVALID_REQUEST' },
  { name: 'unknown task id', method: 'GET', path: `/v1/tasks/${ID}`, headers: auth, status: 404, code: 'TASK_NOT_FOUND' },
  { name: 'malformed session id', method: 'POST', path: '/v1/sessions/a%20b/messages', headers: json, body: '{"message":"hi"}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'empty chat message', method: 'POST', path: '/v1/sessions/s1/messages', headers: json, body: '{"message":""}', status: 400, code: 'INVALID_REQUEST' },
  { name: 'list limit 0', method: 'GET', path: '/v1/tasks?limit=0', headers: auth, status: 400, code: 'INVALID_REQUEST' },
  { name: 'unknown status filter', method: 'GET', path: '/v1/tasks?status=done', headers: auth, status: 400, code: 'INVALID_REQUEST' },
  { name: 'non-numeric Last-Event-ID', method: 'GET', path: `/v1/tasks/${ID}/events`, headers: { ...auth, 'last-event-id': 'x1' }, status: 400, code: 'INVALID_REQUEST' },
  { name: 'wrong API key', method: 'GET', path: '/v1/tasks', headers: { authorization: 'Bearer nope' }, status: 401, code: 'INVALID_API_KEY' },
  { name: 'Basic instead of Bearer', method: 'GET', path: '/v1/tasks', headers: { authorization: 'Basic dTpw' }, status: 401, code: 'UNAUTHORIZED' },
  { name: 'no API key', method: 'POST', path: '/v1/tasks', headers: { 'content-type': 'application/json' }, body: '{"input":1}', status: 401, code: 'UNAUTHORIZED' },
  { name: 'unknown route', method: 'GET', path: '/v1/task', headers: auth, status: 404, code: 'NOT_FOUND' },
  { name: 'wrong method', method: 'PUT', path: `/v1/tasks/${ID}`, headers: json, body: '{}', status: 405, code: 'METHOD_NOT_ALLOWED' },
];

let api: Api;

beforeAll(async () => {
  api = await startApi({
    children: 2,
    config: keysToml({ t: KEY }),
    env: { DROVER_SERVER__BODY_LIMIT_BYTES: '4096', DROVER_LIMITS__RATE_PER_SECOND: '1000', DROVER_LIMITS__BURST: '1000' },
  });
});
afterAll(async () => {
  await api?.close();
  await stopAll();
});

describe('malformed requests', () => {
  it(`each of ${cases.length} gets its status and stable code, and no child dies`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    const pids = api.d.childPids().sort();
    expect(pids).toHaveLength(2);
    const failures: string[] = [];
    for (const c of cases) {
      const r = await request(api.d.url(c.path), { method: c.method, headers: c.headers ?? {}, ...(c.body !== undefined && { body: c.body }) });
      let body: unknown;
      try {
        body = r.json();
      } catch {
        body = r.body;
      }
      const ok = r.status === c.status && JSON.stringify(body) === JSON.stringify({ error: { code: c.code, message: (body as { error?: { message?: string } }).error?.message } });
      if (!ok || typeof (body as { error: { message: unknown } }).error.message !== 'string') failures.push(`${c.name}: ${r.status} ${r.body}`);
    }
    expect(failures).toEqual([]);

    // Nothing was enqueued by any of them, every child is the one that started, and the API still works.
    const list = await request(api.d.url('/v1/tasks'), { headers: auth });
    expect(list.json<{ tasks: unknown[] }>().tasks).toEqual([]);
    expect(api.d.childPids().sort()).toEqual(pids);
    expect(api.d.logs.filter((l) => l.msg === 'child exit')).toEqual([]);
    const ok = await request(api.d.url('/v1/tasks?wait=10'), { method: 'POST', headers: json, body: '{"input":{"result":"fine"}}' });
    expect(ok.status).toBe(200);
    expect(ok.json()['result']).toBe('fine');
  });
});

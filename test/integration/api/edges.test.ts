// Input at the edges of what the API takes: nesting depth, id lengths, URLs and HTTP that the
// router or node's parser refuse. Every answer has drover's {error:{code,message}} shape.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';
import { call, startApi, type Api } from './support.ts';

let api: Api;

beforeAll(async () => {
  api = await startApi({ env: { DROVER_LIMITS__RATE_PER_SECOND: '1000', DROVER_LIMITS__BURST: '1000' } });
});
afterAll(async () => {
  await api?.close();
  await stopAll();
});

/** The body parsed as drover's error shape, or a failure naming what came instead. */
function errorOf(r: { status: number; body: string }): { code: string; message: string } {
  const body = JSON.parse(r.body) as { error?: { code?: unknown; message?: unknown } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error!).sort()).toEqual(['code', 'message']);
  expect(typeof body.error!.message).toBe('string');
  return body.error as { code: string; message: string };
}

/** One raw request on its own connection; resolves with what came back before the close. */
function raw(text: string, port = api.d.port): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let got = '';
    socket.setEncoding('utf8').on('data', (c: string) => (got += c));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
  });
}

describe('nesting depth', () => {
  it('a body nested 100,000 arrays deep is 400 BODY_TOO_DEEP and nothing is stored', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const r = await request(api.d.url('/v1/tasks'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"input":${deep}}` });
    expect(r.status).toBe(400);
    expect(errorOf(r)).toEqual({ code: 'BODY_TOO_DEEP', message: 'the body nests arrays and objects more than 64 levels deep (limits.max_json_depth)' });
    // At the limit it is taken.
    const ok = await call(api.d, 'POST', '/v1/tasks', { body: `{"input":${'['.repeat(63)}${']'.repeat(63)}}` });
    expect(ok.status).toBe(202);
    const list = (await call(api.d, 'GET', '/v1/tasks')).json<{ tasks: { id: string }[] }>();
    expect(list.tasks.map((t) => t.id)).toEqual([ok.json()['id']]);
  });
});

describe('id lengths', () => {
  it('a session id of 128 characters (the documented maximum) is taken; 129 is a 400', async () => {
    const id = 's'.repeat(128);
    const r = await call(api.d, 'POST', `/v1/sessions/${id}/messages?wait=10`, { body: { message: 'hi' } });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ status: 'succeeded', session_id: id });
    expect((await call(api.d, 'GET', `/v1/sessions/${id}`)).status).toBe(200);

    const over = await call(api.d, 'POST', `/v1/sessions/${id}s/messages`, { body: { message: 'hi' } });
    expect(over.status).toBe(400);
    expect(errorOf(over).code).toBe('INVALID_REQUEST');
  });

  it('an 8,000-character id is 414 URI_TOO_LONG in drover\'s shape, without the URL echoed', async () => {
    for (const path of [`/v1/tasks/t_${'a'.repeat(8000)}`, `/v1/sessions/${'s'.repeat(8000)}`, `/v1/sessions/${'s'.repeat(8000)}/messages`]) {
      const r = await request(api.d.url(path));
      expect(r.status, path.slice(0, 20)).toBe(414);
      expect(errorOf(r)).toEqual({ code: 'URI_TOO_LONG', message: 'an id in the path is longer than 512 characters' });
    }
  });
});

describe('what the router and the HTTP parser refuse', () => {
  it('a bad percent-encoding in an id is 400 INVALID_URL', async () => {
    const r = await request(api.d.url('/v1/sessions/%E0%A4%A/messages'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message":"hi"}' });
    expect(r.status).toBe(400);
    expect(errorOf(r).code).toBe('INVALID_URL');
  });

  it('a request that is not HTTP is 400 BAD_REQUEST in drover\'s shape', async () => {
    const answer = await raw('HELLO THERE\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body)).toEqual({ error: { code: 'BAD_REQUEST', message: 'the request is not valid HTTP' } });
  });

  it('headers over node\'s limit are 431 HEADERS_TOO_LARGE in drover\'s shape', async () => {
    const answer = await raw(`GET /v1/tasks HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' } });
  });

  it('headers that do not arrive within server.header_timeout are 408 REQUEST_TIMEOUT in drover\'s shape', async () => {
    const slow = await startDrover({ env: { DROVER_SERVER__HEADER_TIMEOUT: '1' } });
    try {
      const answer = await raw('GET /v1/tasks HTTP/1.1\r\nHost: x\r\n', slow.port);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: 'the request was not received in time' } });
    } finally {
      await slow.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll } from '../../helpers/drover.ts';
import { json, openSse } from '../../helpers/sse.ts';
import { call, startApi, type Api } from './support.ts';

interface Turn {
  id: string;
  kind: string;
  session_id: string;
  status: string;
  result: { content: string; history: number } | null;
  links: { self: string; events: string; session: string };
}

interface SessionBody {
  id: string;
  messages: { role: string; content: string }[];
  links: { self: string; messages: string };
}

let api: Api;

beforeAll(async () => {
  api = await startApi({ children: 2 });
});
afterAll(async () => {
  await api?.close();
  await stopAll();
});

const send = (session: string, message: unknown, query = '') => call(api.d, 'POST', `/v1/sessions/${session}/messages${query}`, { body: { message } });

describe('chat sessions', () => {
  it('a message is a turn task; its reply and the message join the history the next turn sees', async () => {
    const r = await send('chat-1', 'hello');
    expect(r.status).toBe(202);
    const turn = r.json<Turn>();
    expect(turn).toMatchObject({ kind: 'turn', session_id: 'chat-1', status: 'queued' });
    expect(turn.links.session).toBe('/v1/sessions/chat-1');

    const stream = await openSse(api.d.url(turn.links.events));
    await stream.ended;
    expect(json(stream.events.at(-1)!)).toMatchObject({ status: 'succeeded', result: { content: 'echo: hello', history: 0 } });

    const second = await send('chat-1', { content: 'again', name: 'ann' }, '?wait=10');
    expect(second.status).toBe(200);
    expect(second.json<Turn>().result).toEqual({ content: 'echo: again', history: 2 });

    const s = await call(api.d, 'GET', '/v1/sessions/chat-1');
    expect(s.status).toBe(200);
    const body = s.json<SessionBody>();
    expect(body.links).toEqual({ self: '/v1/sessions/chat-1', messages: '/v1/sessions/chat-1/messages' });
    expect(body.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'hello'],
      ['assistant', 'echo: hello'],
      ['user', 'again'],
      ['assistant', 'echo: again'],
    ]);
  });

  it('turns of one session run one at a time, in the order they were sent, whichever child takes them', async () => {
    const ids = [];
    for (const m of ['hold 300', 'second', 'third']) ids.push((await send('ordered', m)).json<Turn>().id);
    const last = await call(api.d, 'GET', `/v1/tasks/${ids[2]}?wait=10`);
    expect(last.json<Turn>().status).toBe('succeeded');
    const s = (await call(api.d, 'GET', '/v1/sessions/ordered')).json<SessionBody>();
    expect(s.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['hold 300', 'second', 'third']);
    expect(last.json<Turn>().result?.history).toBe(4);
  });

  it('DELETE removes the history (204), after which the session is a 404', async () => {
    await send('to-delete', 'bye', '?wait=10');
    expect((await call(api.d, 'GET', '/v1/sessions/to-delete')).status).toBe(200);
    const del = await call(api.d, 'DELETE', '/v1/sessions/to-delete');
    expect(del.status).toBe(204);
    expect(del.body).toBe('');
    for (const r of [await call(api.d, 'GET', '/v1/sessions/to-delete'), await call(api.d, 'DELETE', '/v1/sessions/to-delete')]) {
      expect(r.status).toBe(404);
      expect(r.json<{ error: { code: string } }>().error.code).toBe('SESSION_NOT_FOUND');
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type http from 'node:http';
import { hostname } from 'node:os';
import { stopAll } from '../../helpers/drover.ts';
import { json, openSse, type SseEvent } from '../../helpers/sse.ts';
import { ANONYMOUS_TENANT } from '../../../src/http/api/auth.ts';
import type { Store } from '../../../src/store/index.ts';
import { call, connectionsByChild, PINNED_CONNECTIONS, startApi, until, type Api } from './support.ts';

let api: Api;
let store: Store;

beforeAll(async () => {
  api = await startApi({ children: 2, env: PINNED_CONNECTIONS });
  store = await api.store();
});
afterAll(async () => {
  await api?.close();
  await stopAll();
});

async function submit(input: unknown): Promise<string> {
  const r = await call(api.d, 'POST', '/v1/tasks', { body: { input } });
  expect(r.status).toBe(202);
  return r.json<{ id: string }>().id;
}

/** The pid of the child whose executor holds the task (the store's `worker` is host:pid). */
async function runnerPid(id: string): Promise<number> {
  const t = await until(store, ANONYMOUS_TENANT, id, (t) => t.status === 'running' && t.worker !== null);
  expect(t.worker!.startsWith(`${hostname()}:`)).toBe(true);
  return Number(t.worker!.split(':').pop());
}

/** A connection to each child, split into the one running the task and the other. */
async function sides(id: string): Promise<{ runner: http.Agent; other: http.Agent; otherPid: number; runnerPid: number }> {
  const conns = await connectionsByChild(api.d, 2);
  const pid = await runnerPid(id);
  const otherPid = [...conns.keys()].find((p) => p !== pid)!;
  return { runner: conns.get(pid)!, other: conns.get(otherPid)!, otherPid, runnerPid: pid };
}

const seqs = (events: SseEvent[]) => events.map((e) => Number(e.id));

describe('GET /v1/tasks/:id/events (SSE)', () => {
  it('streams progress in order and one final event, also from a child that is not running the task', async () => {
    const id = await submit({ steps: 5, delay_ms: 150, result: { answer: 42 } });
    const { runner, other, otherPid, runnerPid } = await sides(id);
    expect(otherPid).not.toBe(runnerPid);
    const streams = await Promise.all([other, runner].map((agent) => openSse(api.d.url(`/v1/tasks/${id}/events`), { agent })));
    for (const s of streams) {
      expect(s.status).toBe(200);
      expect(s.headers['content-type']).toMatch(/^text\/event-stream/);
      await s.ended;
      const progress = s.events.filter((e) => e.event === 'progress').map((e) => json(e));
      expect(progress).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
      // Ids are the event seqs: consecutive from 1, whichever process wrote them.
      expect(seqs(s.events)).toEqual(s.events.map((_, i) => i + 1));
      const last = s.events.at(-1)!;
      expect(last.event).toBe('done');
      expect(json(last)).toMatchObject({ status: 'succeeded', result: { answer: 42 } });
      expect(s.events.filter((e) => e.event === 'done')).toHaveLength(1);
    }
    for (const a of [runner, other]) a.destroy();
  });

  it('resumes after Last-Event-ID (header or query; the header wins) and answers 204 past the final event', async () => {
    const id = await submit({ steps: 4, delay_ms: 0 });
    const done = await openSse(api.d.url(`/v1/tasks/${id}/events`));
    await done.ended;
    const all = seqs(done.events);
    const final = all.at(-1)!;
    expect(all.length).toBeGreaterThanOrEqual(6);

    const byHeader = await openSse(api.d.url(`/v1/tasks/${id}/events`), { headers: { 'last-event-id': '2' } });
    await byHeader.ended;
    expect(seqs(byHeader.events)).toEqual(all.filter((s) => s > 2));
    expect(byHeader.events.map((e) => e.data)).toEqual(done.events.slice(2).map((e) => e.data));

    const byQuery = await openSse(api.d.url(`/v1/tasks/${id}/events?last_event_id=3`));
    await byQuery.ended;
    expect(seqs(byQuery.events)).toEqual(all.filter((s) => s > 3));

    const both = await openSse(api.d.url(`/v1/tasks/${id}/events?last_event_id=1`), { headers: { 'last-event-id': '4' } });
    await both.ended;
    expect(seqs(both.events)).toEqual(all.filter((s) => s > 4));

    const after = await openSse(api.d.url(`/v1/tasks/${id}/events`), { headers: { 'last-event-id': String(final) } });
    expect(after.status).toBe(204);
    const beyond = await openSse(api.d.url(`/v1/tasks/${id}/events`), { headers: { 'last-event-id': String(final + 10) } });
    expect(beyond.status).toBe(400);
    expect(JSON.parse(beyond.body).error.code).toBe('INVALID_REQUEST');
  });

  it('delivers events another process writes, sends heartbeats while idle, and ends with the cancel', async () => {
    const id = await submit({ hold_ms: 20_000 });
    const { runner, other } = await sides(id);
    const streams = await Promise.all([other, runner].map((agent) => openSse(api.d.url(`/v1/tasks/${id}/events`), { agent })));
    // The test process writes into the running task's stream, as a child on another node would,
    // under the task's one claim so far (fence 1: both backends count claims from 0).
    for (let i = 1; i <= 3; i++) expect(await store.publish(id, 1, { from: 'test', i })).not.toBeNull();
    for (const s of streams) {
      await s.waitFor((e) => e.data.includes('"i":3'));
      expect(s.events.filter((e) => e.data.includes('"from":"test"')).map((e) => json(e)['i'])).toEqual([1, 2, 3]);
    }
    // limits.sse_heartbeat = 0.2 s here: an idle second carries several pings.
    await new Promise((r) => setTimeout(r, 1000));
    for (const s of streams) expect(s.comments.filter((c) => c === 'ping').length).toBeGreaterThanOrEqual(3);

    const cancel = await call(api.d, 'DELETE', `/v1/tasks/${id}`);
    expect(cancel.status).toBe(202);
    expect(cancel.json()['status']).toBe('cancelling');
    for (const s of streams) {
      await s.ended;
      const last = s.events.at(-1)!;
      expect(last.event).toBe('done');
      expect(json(last)['status']).toBe('cancelled');
    }
    expect((await call(api.d, 'GET', `/v1/tasks/${id}`)).json()['status']).toBe('cancelled');
    for (const a of [runner, other]) a.destroy();
  });

  it('answers 404 for an unknown task and 400 for a bad Last-Event-ID, without opening a stream', async () => {
    const unknown = await openSse(api.d.url('/v1/tasks/t_0000000000000000000000000000000/events'));
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error.code).toBe('TASK_NOT_FOUND');
    const id = await submit({ steps: 0 });
    const bad = await openSse(api.d.url(`/v1/tasks/${id}/events`), { headers: { 'last-event-id': 'abc' } });
    expect(bad.status).toBe(400);
  });
});

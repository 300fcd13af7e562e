// The API in one process on a real socket and a real store, to see what a supervisor-level
// test cannot: how many store subscriptions are open while clients stream and wait.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { buildApp, type ChildState } from '../../../src/http/app.ts';
import { registerApi } from '../../../src/http/api/index.ts';
import { formatEvent } from '../../../src/http/api/sse.ts';
import { requestedWait } from '../../../src/http/api/wait.ts';
import { openStore, type Store } from '../../../src/store/index.ts';
import { tempDir } from '../../helpers/drover.ts';
import { eventually, request, sleep } from '../../helpers/http.ts';
import { openSse } from '../../helpers/sse.ts';

interface Harness {
  url: (path: string) => string;
  store: Store;
  state: ChildState;
  active: () => number;
  /** Ends every subscription the API holds as a store that lost them would (onEnd). */
  drop: () => void;
  close: () => Promise<void>;
}

const open: Harness[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

async function start(): Promise<Harness> {
  const config = defaultConfig();
  config.limits.sse_heartbeat = 0.05;
  const store = await openStore({ ...config.store, stateDir: tempDir('drover-api-unit-') });
  let active = 0;
  const drops = new Set<() => void>();
  // The real store, counting the subscriptions the API holds.
  const counted: Store = {
    ...store,
    subscribe: (taskId, after, onEvent, onEnd) => {
      active++;
      let released = false;
      const release = () => {
        if (!released) active--;
        released = true;
        drops.delete(drop);
        unsubscribe();
      };
      const drop = () => {
        release();
        onEnd?.('dropped by the test');
      };
      const unsubscribe = store.subscribe(taskId, after, onEvent, (reason) => {
        release();
        onEnd?.(reason);
      });
      drops.add(drop);
      return release;
    },
  };
  const state: ChildState = { id: 1, ready: true, draining: false };
  const { app, server } = buildApp(config, state, pino({ level: 'silent' }));
  registerApi(app, { config, store: counted, state });
  await app.ready();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const h: Harness = {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    store,
    state,
    active: () => active,
    drop: () => {
      for (const drop of [...drops]) drop();
    },
    close: async () => {
      server.closeAllConnections();
      await app.close();
      await store.close();
    },
  };
  open.push(h);
  return h;
}

const enqueue = async (store: Store) =>
  (await store.enqueue({ tenant: 'anonymous', input: {}, maxAttempts: 1, timeoutMs: 60_000 })).task.id;

describe('event streams and long polls hold store subscriptions only while needed', () => {
  it('closing the client stream releases its subscription', async () => {
    const h = await start();
    const id = await enqueue(h.store);
    const s = await openSse(h.url(`/v1/tasks/${id}/events`));
    await eventually(() => s.comments.includes('ping'));
    expect(h.active()).toBe(1);
    s.close();
    await eventually(() => h.active() === 0);
  });

  it('HEAD answers the stream headers without subscribing', async () => {
    const h = await start();
    const id = await enqueue(h.store);
    const r = await request(h.url(`/v1/tasks/${id}/events`), { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    await sleep(50);
    expect(h.active()).toBe(0);
  });

  it('a stream ends after the final event and releases its subscription', async () => {
    const h = await start();
    const id = await enqueue(h.store);
    const s = await openSse(h.url(`/v1/tasks/${id}/events`));
    const [claimed] = await h.store.claim({ worker: 'test', n: 1, leaseMs: 60_000 });
    await h.store.publish(id, claimed!.fence, { step: 1 });
    await h.store.complete(id, claimed!.fence, { answer: 1 });
    await s.ended;
    expect(s.events.map((e) => e.event)).toEqual(['status', 'progress', 'done']);
    await eventually(() => h.active() === 0);
  });

  it('a client leaving a ?wait releases its subscription', async () => {
    const h = await start();
    const req = http.request(h.url('/v1/tasks?wait=30'), { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end('{"input":{}}');
    await eventually(() => h.active() === 1);
    req.destroy();
    await eventually(() => h.active() === 0);
  });

  it('draining ends open streams (no final event: the client resumes elsewhere) and answers long polls at once', async () => {
    const h = await start();
    const id = await enqueue(h.store);
    const s = await openSse(h.url(`/v1/tasks/${id}/events`));
    const t0 = Date.now();
    const poll = request(h.url(`/v1/tasks/${id}?wait=30`));
    await eventually(() => h.active() === 2);
    h.state.draining = true;
    await s.ended;
    const r = await poll;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.status).toBe(200);
    expect(r.json()['status']).toBe('queued');
    expect(s.events.filter((e) => e.event === 'done')).toEqual([]);
    await eventually(() => h.active() === 0);
  });
});

describe('a subscription the store drops ends what waits on it', () => {
  it('closing the store ends an open stream without a final event', async () => {
    const h = await start();
    const id = await enqueue(h.store);
    const s = await openSse(h.url(`/v1/tasks/${id}/events`));
    await eventually(() => s.comments.includes('ping'));
    await h.store.close();
    await s.ended;
    expect(s.events.filter((e) => e.event === 'done')).toEqual([]);
    await eventually(() => h.active() === 0);
  });

  it('a dropped subscription ends the stream after what was delivered, and a long poll answers with the task as it stands', async () => {
    const h = await start();
    const id = await enqueue(h.store);
    const [claimed] = await h.store.claim({ worker: 'test', n: 1, leaseMs: 60_000 });
    await h.store.publish(id, claimed!.fence, { step: 1 });
    const s = await openSse(h.url(`/v1/tasks/${id}/events`));
    const poll = request(h.url(`/v1/tasks/${id}?wait=30`));
    await eventually(() => h.active() === 2 && s.events.length === 2);
    h.drop();
    await s.ended;
    const r = await poll;
    expect(r.status).toBe(200);
    expect(r.json()['status']).toBe('running');
    expect(s.events.map((e) => e.event)).toEqual(['status', 'progress']);
    expect(h.active()).toBe(0);
  });
});

describe('wire details', () => {
  it('formats an event with its seq as id, a name and one data line', () => {
    expect(formatEvent({ seq: 7, event: { n: 1, text: 'a\nb' }, final: false })).toBe('id: 7\nevent: progress\ndata: {"n":1,"text":"a\\nb"}\n\n');
    expect(formatEvent({ seq: 8, event: { type: 'status', status: 'running' }, final: false })).toMatch(/^id: 8\nevent: status\n/);
    expect(formatEvent({ seq: 9, event: { type: 'status', status: 'dead' }, final: true })).toMatch(/^id: 9\nevent: done\n/);
  });

  it('reads the wait from ?wait, else from Prefer (clamped to max_wait), else 0', () => {
    const req = (query: object, prefer?: string) => ({ query, headers: prefer === undefined ? {} : { prefer } }) as unknown as FastifyRequest;
    expect(requestedWait(req({ wait: 3 }, 'wait=9'), 300)).toBe(3);
    expect(requestedWait(req({}, 'respond-async, wait=9'), 300)).toBe(9);
    expect(requestedWait(req({}, 'wait=1000'), 300)).toBe(300);
    expect(requestedWait(req({}, 'handling=lenient'), 300)).toBe(0);
    expect(requestedWait(req({}, 'wait=soon'), 300)).toBe(0);
    expect(requestedWait(req({}), 300)).toBe(0);
  });
});

// Progress events: numbering, resume after a seq, the store's own status events, and
// subscriptions within one handle and across handles.
import { describe, expect, it } from 'vitest';
import type { Store, TaskEvent } from '../../../src/store/types.ts';
import { eventually, req, type Setup } from './harness.ts';

function collect(store: Store, taskId: string, afterSeq = 0): { got: TaskEvent[]; stop: () => void } {
  const got: TaskEvent[] = [];
  const stop = store.subscribe(taskId, afterSeq, (e) => got.push(e));
  return { got, stop };
}

const statuses = (events: TaskEvent[]) => events.map((e) => (e.event as { status?: string }).status ?? 'progress');

export function eventTests(setup: Setup): void {
  describe('progress events', () => {
    it('numbers events per task and resumes after a seq', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      const other = (await store.enqueue(req())).task;
      const claimed = await store.claim({ worker: 'w1', n: 2, leaseMs: 60_000 });
      const fence = (id: string) => claimed.find((t) => t.id === id)?.fence ?? 0;
      // Seq 1 of each is its `running` status event.
      expect(await store.publish(task.id, fence(task.id), { step: 'a' })).toBe(2);
      expect(await store.publish(other.id, fence(other.id), { step: 'x' })).toBe(2);
      expect(await store.publish(task.id, fence(task.id), { step: 'b' })).toBe(3);
      expect(await store.publish(task.id, fence(task.id), { step: 'c' })).toBe(4);
      expect(await store.events(task.id, 2)).toEqual([
        { seq: 3, event: { step: 'b' }, final: false },
        { seq: 4, event: { step: 'c' }, final: false },
      ]);
      expect(await store.events(task.id, 0, 1)).toHaveLength(1);
      expect(await store.publish('no-such-task', 1, {})).toBeNull();
    });

    it('publishes every status change and ends with one final event', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      const [first] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      await store.publish(task.id, first?.fence ?? 0, { step: 1 });
      await store.fail(task.id, first?.fence ?? 0, { code: 'E', message: 'm' }, { retryable: true, retryDelayMs: 0 });
      const [second] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      await store.complete(task.id, second?.fence ?? 0, { answer: 1 });
      expect(await store.publish(task.id, second?.fence ?? 0, { late: true })).toBeNull();
      const events = await store.events(task.id, 0);
      expect(statuses(events)).toEqual(['running', 'progress', 'queued', 'running', 'succeeded']);
      expect(events.map((e) => e.final)).toEqual([false, false, false, false, true]);
      expect(events[2]?.event).toMatchObject({ type: 'status', status: 'queued', attempt: 1, error: { code: 'E' } });
      expect(events[4]?.event).toEqual({ type: 'status', status: 'succeeded', attempt: 2, result: { answer: 1 } });
    });

    it.each([
      ['nothing (undefined is stored as null)', undefined, null],
      ['null', null, null],
      ['a string with quotes, a line separator and emoji', 'say "hi"\u2028🙂', 'say "hi"\u2028🙂'],
      ['nested arrays and numbers', { a: [1, -0, 1e21, 0.1], b: { c: [] } }, { a: [1, 0, 1e21, 0.1], b: { c: [] } }],
    ])('ends a succeeded task with its result as stored, for %s', async (_name, result, stored) => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      await store.complete(task.id, claimed?.fence ?? 0, result);
      const final = (await store.events(task.id, 0)).at(-1);
      expect(final?.event).toEqual({ type: 'status', status: 'succeeded', attempt: 1, result: stored });
      expect((await store.get('acme', task.id))?.result).toEqual(stored);
    });

    it('publishes a final event for a cancelled and for a dead task', async () => {
      const { store } = await setup();
      const queued = (await store.enqueue(req())).task;
      await store.cancel('acme', queued.id);
      expect((await store.events(queued.id, 0)).at(-1)).toMatchObject({ final: true, event: { status: 'cancelled' } });
      const doomed = (await store.enqueue(req())).task;
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      await store.fail(doomed.id, claimed?.fence ?? 0, { code: 'E', message: 'm' }, { retryable: false, retryDelayMs: 0 });
      expect((await store.events(doomed.id, 0)).at(-1)).toMatchObject({ final: true, event: { status: 'dead', error: { code: 'E' } } });
    });

    it('drops the progress events of an attempt whose lease was taken over, from any handle', async () => {
      const { store, clock, peer } = await setup();
      const other = await peer();
      const { task } = await store.enqueue(req({ maxAttempts: 3 }));
      const [first] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      expect(await store.publish(task.id, first?.fence ?? 0, { from: 'first' })).toBe(2);
      expect(await store.publish(task.id, (first?.fence ?? 0) + 1, { from: 'a fence not issued yet' })).toBeNull();
      clock.advance(1001);
      expect(await other.reapExpired()).toBe(1);
      // Reaped and queued again: the old attempt no longer holds it.
      expect(await store.publish(task.id, first?.fence ?? 0, { from: 'first', after: 'reap' })).toBeNull();
      const [second] = await other.claim({ worker: 'w2', n: 1, leaseMs: 60_000 });
      expect(second?.id).toBe(task.id);
      expect(await store.publish(task.id, first?.fence ?? 0, { from: 'first', after: 'claim' })).toBeNull();
      expect(await other.publish(task.id, second?.fence ?? 0, { from: 'second' })).toBe(5);
      await other.release(task.id, second?.fence ?? 0);
      expect(await other.publish(task.id, second?.fence ?? 0, { from: 'second', after: 'release' })).toBeNull();
      const events = await store.events(task.id, 0);
      expect(statuses(events)).toEqual(['running', 'progress', 'queued', 'running', 'progress', 'queued']);
      expect(events.filter((e) => statuses([e])[0] === 'progress').map((e) => e.event)).toEqual([{ from: 'first' }, { from: 'second' }]);
    });
  });

  describe('subscribe', () => {
    it('delivers stored then new events in order, never inside the subscribe call, and stops after the final one', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      const fence = claimed?.fence ?? 0;
      await store.publish(task.id, fence, { n: 1 });
      const { got } = collect(store, task.id, 1);
      expect(got).toEqual([]);
      await store.publish(task.id, fence, { n: 2 });
      await store.publish(task.id, fence, { n: 3 });
      await store.complete(task.id, fence, 'ok');
      await eventually(() => expect(got.map((e) => e.seq)).toEqual([2, 3, 4, 5]));
      expect(got.at(-1)?.final).toBe(true);
      expect(got[2]?.event).toEqual({ n: 3 });
    });

    it('stops delivering once unsubscribed', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      const { got, stop } = collect(store, task.id);
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.publish(task.id, claimed?.fence ?? 0, { n: 1 });
      await eventually(() => expect(got).toHaveLength(2));
      stop();
      await store.publish(task.id, claimed?.fence ?? 0, { n: 2 });
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toHaveLength(2);
    });

    it('tells a subscriber once that the store closed, after what was delivered; never on unsubscribe or the final event', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      const done = (await store.enqueue(req())).task;
      const ends: string[] = [];
      const got: TaskEvent[] = [];
      const doneEnds: string[] = [];
      const doneGot: TaskEvent[] = [];
      store.subscribe(task.id, 0, (e) => got.push(e), (reason) => ends.push(reason));
      const stopped: string[] = [];
      const stop = store.subscribe(task.id, 0, () => {}, (reason) => stopped.push(reason));
      store.subscribe(done.id, 0, (e) => doneGot.push(e), (reason) => doneEnds.push(reason));
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      expect(claimed?.id).toBe(task.id);
      await store.publish(task.id, claimed?.fence ?? 0, { n: 1 });
      await store.cancel(done.tenant, done.id);
      await eventually(() => expect(got).toHaveLength(2));
      await eventually(() => expect(doneGot.at(-1)?.final).toBe(true));
      stop();
      await store.close();
      await eventually(() => expect(ends).toHaveLength(1));
      await new Promise((r) => setTimeout(r, 50));
      expect(ends).toHaveLength(1);
      expect(got).toHaveLength(2);
      expect(stopped).toEqual([]);
      expect(doneEnds).toEqual([]);
    });

    it('delivers events written through another handle, in order, to the end', async () => {
      const { store, peer } = await setup();
      const worker = await peer();
      const { task } = await store.enqueue(req());
      const { got } = collect(store, task.id);
      const [claimed] = await worker.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      for (let i = 0; i < 5; i++) await worker.publish(task.id, claimed?.fence ?? 0, { i });
      // A status event written here between the other handle's events must not reorder them.
      await store.cancel('acme', task.id);
      await worker.publish(task.id, claimed?.fence ?? 0, { i: 5 });
      await worker.fail(task.id, claimed?.fence ?? 0, { code: 'CANCELLED', message: 'aborted' }, { retryable: false, retryDelayMs: 0 });
      await eventually(() => expect(got.at(-1)?.final).toBe(true));
      expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(statuses(got)).toEqual([
        'running', 'progress', 'progress', 'progress', 'progress', 'progress', 'cancelling', 'progress', 'cancelled',
      ]);
    });

    it('lets two subscribers of one task each get every event', async () => {
      const { store, peer } = await setup();
      const other = await peer();
      const { task } = await store.enqueue(req());
      const a = collect(store, task.id);
      const b = collect(other, task.id);
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.publish(task.id, claimed?.fence ?? 0, 'x');
      await other.publish(task.id, claimed?.fence ?? 0, 'y');
      await store.complete(task.id, claimed?.fence ?? 0, 'done');
      const expected = [
        expect.objectContaining({ status: 'running' }), 'x', 'y', expect.objectContaining({ status: 'succeeded' }),
      ];
      await eventually(() => {
        expect(a.got.map((e) => e.event)).toEqual(expected);
        expect(b.got.map((e) => e.event)).toEqual(expected);
      });
    });
  });
}

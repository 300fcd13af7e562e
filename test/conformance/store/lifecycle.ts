// Leases, fencing, retries with backoff, dead letters, release on drain, cancel.
import { describe, expect, it } from 'vitest';
import type { ClaimedTask, Store } from '../../../src/store/types.ts';
import { req, type Setup } from './harness.ts';

async function claimOne(store: Store, worker = 'w1', leaseMs = 1000): Promise<ClaimedTask> {
  const [task] = await store.claim({ worker, n: 1, leaseMs });
  if (!task) throw new Error('nothing to claim');
  return task;
}

const boom = { code: 'BOOM', message: 'the agent threw' };

export function lifecycleTests(setup: Setup): void {
  describe('leases and fencing', () => {
    it('requeues a task whose lease expired with the attempt counted, and fences out the old owner', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(req());
      const zombie = await claimOne(store, 'w1', 1000);
      clock.advance(1001);
      const fresh = await claimOne(store, 'w2', 1000);
      expect(fresh).toMatchObject({ id: task.id, attempt: 2, worker: 'w2' });
      expect(fresh.error?.code).toBe('LEASE_EXPIRED');
      expect(fresh.fence).toBeGreaterThan(zombie.fence);
      expect(await store.renew(task.id, zombie.fence, 1000)).toBe('lost');
      expect(await store.complete(task.id, zombie.fence, 'stale')).toBe(false);
      expect(await store.fail(task.id, zombie.fence, boom, { retryable: true, retryDelayMs: 0 })).toBe('stale');
      expect(await store.release(task.id, zombie.fence)).toBe(false);
      expect(await store.complete(task.id, fresh.fence, { answer: 42 })).toBe(true);
      expect(await store.get('acme', task.id)).toMatchObject({ status: 'succeeded', result: { answer: 42 }, finishedAt: clock.now });
      expect(await store.complete(task.id, fresh.fence, 'twice')).toBe(false);
    });

    it('keeps a renewed lease alive past its first deadline', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(req());
      const claimed = await claimOne(store, 'w1', 1000);
      clock.advance(900);
      expect(await store.renew(task.id, claimed.fence, 1000)).toBe('renewed');
      clock.advance(900);
      expect(await store.reapExpired()).toBe(0);
      expect(await store.claim({ worker: 'w2', n: 1, leaseMs: 1000 })).toEqual([]);
      expect((await store.get('acme', task.id))?.leaseUntil).toBe(clock.now + 100);
    });

    it('dead-letters a task whose lease expired on its last attempt', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(req({ maxAttempts: 2 }));
      await claimOne(store);
      clock.advance(1001);
      await claimOne(store);
      clock.advance(1001);
      expect(await store.reapExpired()).toBe(1);
      expect(await store.get('acme', task.id)).toMatchObject({ status: 'dead', attempt: 2, error: { code: 'LEASE_EXPIRED' } });
      expect(await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 })).toEqual([]);
      expect((await store.stats()).dead).toBe(1);
    });
  });

  describe('attempt history', () => {
    it('keeps every attempt with its error, and a task that succeeds later has no error of its own', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(req({ maxAttempts: 4 }));
      expect(task.attempts).toEqual([]);
      const t1 = clock.now;
      const a1 = await claimOne(store);
      expect(a1.attempts).toEqual([{ n: 1, error: null, startedAt: t1, finishedAt: null }]);
      clock.advance(10);
      await store.fail(task.id, a1.fence, boom, { retryable: true, retryDelayMs: 0 });
      const t2 = clock.now;
      // A lease that runs out ends an attempt too, with LEASE_EXPIRED.
      await claimOne(store, 'w2', 1000);
      clock.advance(1001);
      const t3 = clock.now;
      const a3 = await claimOne(store, 'w3');
      // Given back on drain: not an attempt, so the next claim is attempt 3 again.
      await store.release(task.id, a3.fence);
      const redo = await claimOne(store, 'w4');
      expect(redo.attempt).toBe(3);
      // A retried task comes with the attempts before this one.
      expect(redo.attempts).toEqual([
        { n: 1, error: boom, startedAt: t1, finishedAt: t1 + 10 },
        { n: 2, error: { code: 'LEASE_EXPIRED', message: expect.any(String) }, startedAt: t2, finishedAt: t3 },
        { n: 3, error: null, startedAt: t3, finishedAt: null },
      ]);
      clock.advance(5);
      expect(await store.complete(task.id, redo.fence, 'done')).toBe(true);
      const done = await store.get('acme', task.id);
      expect(done).toMatchObject({ status: 'succeeded', attempt: 3, error: null, result: 'done' });
      expect(done?.attempts).toEqual([
        { n: 1, error: boom, startedAt: t1, finishedAt: t1 + 10 },
        { n: 2, error: { code: 'LEASE_EXPIRED', message: expect.any(String) }, startedAt: t2, finishedAt: t3 },
        { n: 3, error: null, startedAt: t3, finishedAt: t3 + 5 },
      ]);
      expect((await store.list('acme', { limit: 10 }))[0]?.attempts).toEqual(done?.attempts);
    });

    it('records the final failure on the task and its last attempt when it is dead-lettered or cancelled', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req({ maxAttempts: 1 }));
      await store.fail(task.id, (await claimOne(store)).fence, boom, { retryable: true, retryDelayMs: 0 });
      const dead = await store.get('acme', task.id);
      expect(dead).toMatchObject({ status: 'dead', error: boom });
      expect(dead?.attempts.map((a) => [a.n, a.error])).toEqual([[1, boom]]);

      const other = (await store.enqueue(req())).task;
      const running = await claimOne(store);
      await store.cancel('acme', other.id);
      await store.fail(other.id, running.fence, { code: 'ABORTED', message: 'cancelled' }, { retryable: true, retryDelayMs: 0 });
      const cancelled = await store.get('acme', other.id);
      expect(cancelled?.status).toBe('cancelled');
      expect(cancelled?.attempts.map((a) => [a.n, a.error?.code, a.finishedAt !== null])).toEqual([[1, 'ABORTED', true]]);
      // Cancelled while queued: no attempt ran.
      const never = (await store.enqueue(req())).task;
      expect((await store.cancel('acme', never.id))?.attempts).toEqual([]);
    });
  });

  describe('failure and retry', () => {
    it('retries a retryable failure after its delay, then dead-letters on the last attempt', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(req({ maxAttempts: 2 }));
      const first = await claimOne(store);
      expect(await store.fail(task.id, first.fence, boom, { retryable: true, retryDelayMs: 5000 })).toBe('retrying');
      expect(await store.get('acme', task.id)).toMatchObject({ status: 'queued', attempt: 1, runAt: clock.now + 5000, error: boom });
      clock.advance(4999);
      expect(await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 })).toEqual([]);
      clock.advance(1);
      const second = await claimOne(store);
      expect(second.attempt).toBe(2);
      expect(await store.fail(task.id, second.fence, boom, { retryable: true, retryDelayMs: 5000 })).toBe('dead');
      expect(await store.get('acme', task.id)).toMatchObject({ status: 'dead', error: boom, finishedAt: clock.now });
    });

    it('dead-letters a non-retryable failure at once', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req({ maxAttempts: 5 }));
      const claimed = await claimOne(store);
      expect(await store.fail(task.id, claimed.fence, boom, { retryable: false, retryDelayMs: 0 })).toBe('dead');
      expect((await store.get('acme', task.id))?.status).toBe('dead');
    });

    it('releases a running task back to the queue without spending an attempt', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req({ maxAttempts: 1 }));
      const claimed = await claimOne(store);
      expect(await store.release(task.id, claimed.fence)).toBe(true);
      expect(await store.get('acme', task.id)).toMatchObject({ status: 'queued', attempt: 0, leaseUntil: null });
      expect((await store.events(task.id, 0)).map((e) => e.event)).toEqual([
        { type: 'status', status: 'running', attempt: 1 },
        { type: 'status', status: 'queued', attempt: 0, runAt: claimed.startedAt },
      ]);
      const again = await claimOne(store, 'w2');
      expect(again.attempt).toBe(1);
      expect(await store.release(task.id, claimed.fence)).toBe(false);
    });
  });

  describe('tasks a worker holds', () => {
    it('lists the running and cancelling tasks of one worker with their fences, and none it no longer holds', async () => {
      const { store, clock } = await setup();
      for (let i = 0; i < 5; i++) await store.enqueue(req({ input: i }));
      const [a, b, c] = await store.claim({ worker: 'w1', n: 3, leaseMs: 1000 });
      const [d] = await store.claim({ worker: 'w2', n: 1, leaseMs: 1000 });
      expect(await store.heldBy('w3')).toEqual([]);
      const byId = (held: { id: string; fence: number }[]) => [...held].sort((x, y) => x.id.localeCompare(y.id));
      expect(byId(await store.heldBy('w1'))).toEqual(byId([a!, b!, c!].map((t) => ({ id: t.id, fence: t.fence }))));
      expect(await store.heldBy('w2')).toEqual([{ id: d!.id, fence: d!.fence }]);
      // Cancelling is still held; finished, failed or released is not.
      await store.cancel('acme', a!.id);
      await store.complete(b!.id, b!.fence, 'done');
      await store.release(c!.id, c!.fence);
      expect(await store.heldBy('w1')).toEqual([{ id: a!.id, fence: a!.fence }]);
      // A lease that expired and went to another worker is that worker's.
      clock.advance(1001);
      await store.reapExpired();
      const taken = await store.claim({ worker: 'w3', n: 5, leaseMs: 1000 });
      expect(await store.heldBy('w2')).toEqual([]);
      expect(byId(await store.heldBy('w3'))).toEqual(byId(taken.map((t) => ({ id: t.id, fence: t.fence }))));
      expect(taken.map((t) => t.id)).toContain(d!.id);
    });

    it('finds every task a worker holds among many running', async () => {
      const { store } = await setup();
      for (let i = 0; i < 700; i++) await store.enqueue(req({ input: i }));
      const mine = new Map<string, number>();
      for (let i = 0; i < 14; i++) {
        const worker = i % 2 ? 'w1' : 'w2';
        for (const t of await store.claim({ worker, n: 50, leaseMs: 60_000 })) if (worker === 'w1') mine.set(t.id, t.fence);
      }
      const held = await store.heldBy('w1');
      expect(held).toHaveLength(350);
      expect(new Map(held.map((t) => [t.id, t.fence]))).toEqual(mine);
    });
  });

  describe('cancel', () => {
    it('cancels a queued task so that it never runs', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(req());
      expect(await store.cancel('acme', task.id)).toMatchObject({ id: task.id, status: 'cancelled', finishedAt: clock.now });
      expect(await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 })).toEqual([]);
      expect(await store.cancel('acme', 'no-such-task')).toBeNull();
    });

    it('tells the worker of a running task through renew, and its failure ends the task cancelled', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      const claimed = await claimOne(store);
      expect((await store.cancel('acme', task.id))?.status).toBe('cancelling');
      expect(await store.renew(task.id, claimed.fence, 1000)).toBe('cancelling');
      const aborted = { code: 'CANCELLED', message: 'aborted' };
      expect(await store.fail(task.id, claimed.fence, aborted, { retryable: true, retryDelayMs: 0 })).toBe('cancelled');
      expect(await store.get('acme', task.id)).toMatchObject({ status: 'cancelled', error: aborted });
      expect((await store.cancel('acme', task.id))?.status).toBe('cancelled');
    });

    it('ends a cancelling task whose worker vanished as cancelled, not retried', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(req());
      await claimOne(store);
      await store.cancel('acme', task.id);
      clock.advance(1001);
      expect(await store.reapExpired()).toBe(1);
      expect((await store.get('acme', task.id))?.status).toBe('cancelled');
      expect(await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 })).toEqual([]);
    });

    it('lets a result that arrives after the cancel request win, and leaves finished tasks alone', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      const claimed = await claimOne(store);
      await store.cancel('acme', task.id);
      expect(await store.complete(task.id, claimed.fence, 'done anyway')).toBe(true);
      expect(await store.cancel('acme', task.id)).toMatchObject({ status: 'succeeded', result: 'done anyway' });
    });
  });
}

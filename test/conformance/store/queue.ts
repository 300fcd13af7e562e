// Enqueue, claim order, idempotency, the queue cap, tenant isolation, listing.
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../../src/store/errors.ts';
import { req, type Setup } from './harness.ts';

export function queueTests(setup: Setup): void {
  describe('enqueue and read', () => {
    it('enqueues a queued task that get returns as stored', async () => {
      const { store, clock } = await setup();
      const { task, created } = await store.enqueue(req({ input: { q: 'hi', n: [1, 2] }, priority: 2 }));
      expect(created).toBe(true);
      expect(task).toMatchObject({
        tenant: 'acme', kind: 'task', sessionId: null, status: 'queued', priority: 2, input: { q: 'hi', n: [1, 2] },
        result: null, error: null, attempt: 0, maxAttempts: 3, timeoutMs: 60_000, idempotencyKey: null,
        createdAt: clock.now, runAt: clock.now, startedAt: null, finishedAt: null,
      });
      expect(await store.get('acme', task.id)).toEqual(task);
    });

    it.each([
      ['a turn of a session', { kind: 'turn' as const, sessionId: 's1' }],
      ['an idempotency key and request hash', { idempotencyKey: 'k1', requestHash: 'h1' }],
      ['input with undefined fields (stored as JSON drops them)', { input: { a: undefined, b: [1, null], c: 'é' } }],
    ])('answers an enqueue of %s with the task get then returns', async (_name, overrides) => {
      const { store } = await setup();
      const { task } = await store.enqueue(req(overrides));
      expect(await store.get('acme', task.id)).toStrictEqual(task);
    });

    it('returns the existing task for the same tenant and idempotency key', async () => {
      const { store } = await setup();
      const first = await store.enqueue(req({ idempotencyKey: 'k1', input: 1 }));
      const again = await store.enqueue(req({ idempotencyKey: 'k1', input: 2 }));
      expect(again.created).toBe(false);
      expect(again.task.id).toBe(first.task.id);
      expect(again.task.input).toBe(1);
      const otherTenant = await store.enqueue(req({ tenant: 'globex', idempotencyKey: 'k1' }));
      expect(otherTenant.created).toBe(true);
      expect(otherTenant.task.id).not.toBe(first.task.id);
      const otherKey = await store.enqueue(req({ idempotencyKey: 'k2' }));
      expect(otherKey.task.id).not.toBe(first.task.id);
    });

    it('refuses the same key with another request hash (IDEMPOTENCY_MISMATCH) and replays the same hash', async () => {
      const { store } = await setup();
      const first = await store.enqueue(req({ idempotencyKey: 'k1', requestHash: 'h1', input: 1 }));
      expect((await store.enqueue(req({ idempotencyKey: 'k1', requestHash: 'h1', input: 1 }))).task.id).toBe(first.task.id);
      await expect(store.enqueue(req({ idempotencyKey: 'k1', requestHash: 'h2', input: 2 }))).rejects.toSatisfy((e) =>
        isStoreError(e, 'IDEMPOTENCY_MISMATCH') && e.message.includes(first.task.id));
      // Without a hash on either side there is nothing to compare: the task is returned.
      expect((await store.enqueue(req({ idempotencyKey: 'k1', input: 3 }))).task.id).toBe(first.task.id);
      const unhashed = await store.enqueue(req({ idempotencyKey: 'k2' }));
      expect((await store.enqueue(req({ idempotencyKey: 'k2', requestHash: 'h9' }))).task.id).toBe(unhashed.task.id);
      // Another tenant's key is another key.
      expect((await store.enqueue(req({ tenant: 'globex', idempotencyKey: 'k1', requestHash: 'h2' }))).created).toBe(true);
      expect((await store.stats()).queued).toBe(3);
    });

    it('rejects a turn without a session and bad numbers with INVALID_ARGUMENT', async () => {
      const { store } = await setup();
      for (const bad of [
        req({ kind: 'turn' }), req({ maxAttempts: 0 }), req({ priority: 1.5 }), req({ priority: 1001 }), req({ priority: -1001 }), req({ tenant: '' }),
      ]) {
        await expect(store.enqueue(bad)).rejects.toSatisfy((e) => isStoreError(e, 'INVALID_ARGUMENT'));
      }
      expect((await store.stats()).queued).toBe(0);
    });

    it('refuses new tasks with QUEUE_FULL at the queue limit and accepts them once one was claimed', async () => {
      const { store } = await setup({ queueLimit: 2 });
      await store.enqueue(req({ idempotencyKey: 'a' }));
      await store.enqueue(req());
      await expect(store.enqueue(req())).rejects.toSatisfy((e) => isStoreError(e, 'QUEUE_FULL'));
      // A duplicate submission is not a new task: it still gets its answer.
      expect((await store.enqueue(req({ idempotencyKey: 'a' }))).created).toBe(false);
      await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      expect((await store.enqueue(req())).created).toBe(true);
    });

    it('keeps tenants apart: another tenant cannot see, list or cancel a task', async () => {
      const { store } = await setup();
      const { task } = await store.enqueue(req());
      expect(await store.get('globex', task.id)).toBeNull();
      expect(await store.list('globex', { limit: 10 })).toEqual([]);
      expect(await store.cancel('globex', task.id)).toBeNull();
      expect((await store.get('acme', task.id))?.status).toBe('queued');
    });

    it('lists newest first, filters by status and pages with before', async () => {
      const { store, clock } = await setup();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await store.enqueue(req({ input: i }))).task.id);
        clock.advance(1);
      }
      await store.enqueue(req({ tenant: 'globex' }));
      const page1 = await store.list('acme', { limit: 2 });
      expect(page1.map((t) => t.id)).toEqual([ids[4], ids[3]]);
      const page2 = await store.list('acme', { limit: 2, before: page1[1]?.id });
      expect(page2.map((t) => t.id)).toEqual([ids[2], ids[1]]);
      await store.cancel('acme', ids[1] as string);
      expect((await store.list('acme', { limit: 10, status: 'cancelled' })).map((t) => t.id)).toEqual([ids[1]]);
      expect(await store.list('acme', { limit: 10, status: 'queued' })).toHaveLength(4);
    });
  });

  describe('claim', () => {
    it('hands out the highest priority first, oldest first within a priority', async () => {
      const { store } = await setup();
      const order = [0, 5, 0, 5, 1];
      const ids = [];
      for (const priority of order) ids.push((await store.enqueue(req({ priority }))).task.id);
      const first = await store.claim({ worker: 'w1', n: 2, leaseMs: 1000 });
      const rest = await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 });
      expect([...first, ...rest].map((t) => t.id)).toEqual([ids[1], ids[3], ids[4], ids[0], ids[2]]);
      expect(await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 })).toEqual([]);
    });

    it('orders the priority bounds -1000 and 1000 like any other priority', async () => {
      const { store } = await setup();
      const low = (await store.enqueue(req({ priority: -1000 }))).task;
      const mid = (await store.enqueue(req({ priority: 0 }))).task;
      const high = (await store.enqueue(req({ priority: 1000 }))).task;
      const high2 = (await store.enqueue(req({ priority: 1000 }))).task;
      const claimed = await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 });
      expect(claimed.map((t) => t.id)).toEqual([high.id, high2.id, mid.id, low.id]);
    });

    it('marks a claimed task running with attempt, worker, lease and a fence', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(req());
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 5000 });
      expect(claimed).toMatchObject({
        id: task.id, status: 'running', attempt: 1, worker: 'w1', leaseUntil: clock.now + 5000, startedAt: clock.now,
      });
      expect(claimed?.fence).toBeGreaterThan(0);
      expect(await store.get('acme', task.id)).toMatchObject({ status: 'running', attempt: 1 });
    });

    it('gives each task to one claimer when handles claim at once', async () => {
      const { store, peer } = await setup();
      const other = await peer();
      for (let i = 0; i < 20; i++) await store.enqueue(req({ input: i }));
      const batches = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).claim({ worker: `w${i}`, n: 3, leaseMs: 1000 })),
      );
      const ids = batches.flat().map((t) => t.id);
      expect(ids).toHaveLength(20);
      expect(new Set(ids).size).toBe(20);
    });
  });
}

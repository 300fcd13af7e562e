// Session history with TTL, and turns of one session running one at a time, in order,
// with appends fenced by the turn's claim.
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../../src/store/errors.ts';
import { req, type Setup } from './harness.ts';

const turn = (sessionId: string, input: unknown) => req({ kind: 'turn', sessionId, input });

export function sessionTests(setup: Setup): void {
  describe('session history', () => {
    it('creates a session on the first append and keeps messages in order', async () => {
      const { store, clock } = await setup({ sessionTtlMs: 30_000 });
      expect(await store.sessionGet('acme', 's1')).toBeNull();
      await store.sessionAppend('acme', 's1', [{ role: 'user', content: 'hi' }]);
      clock.advance(10);
      const session = await store.sessionAppend('acme', 's1', [{ role: 'assistant', content: 'hello' }, { role: 'user', content: '?' }]);
      expect(session).toMatchObject({ tenant: 'acme', id: 's1', updatedAt: clock.now, expiresAt: clock.now + 30_000 });
      expect(session.createdAt).toBe(clock.now - 10);
      expect((await store.sessionGet('acme', 's1'))?.messages).toEqual([
        { role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: '?' },
      ]);
      expect(await store.sessionGet('globex', 's1')).toBeNull();
    });

    it('expires an idle session after its TTL, each append pushing the expiry out', async () => {
      const { store, clock } = await setup({ sessionTtlMs: 30_000 });
      await store.sessionAppend('acme', 's1', ['a']);
      clock.advance(29_000);
      await store.sessionAppend('acme', 's1', ['b']);
      clock.advance(29_000);
      expect((await store.sessionGet('acme', 's1'))?.messages).toEqual(['a', 'b']);
      clock.advance(1000);
      expect(await store.sessionGet('acme', 's1')).toBeNull();
      expect((await store.sessionAppend('acme', 's1', ['c'])).messages).toEqual(['c']);
    });

    it('deletes a session', async () => {
      const { store } = await setup();
      await store.sessionAppend('acme', 's1', ['a']);
      expect(await store.sessionDelete('globex', 's1')).toBe(false);
      expect(await store.sessionDelete('acme', 's1')).toBe(true);
      expect(await store.sessionGet('acme', 's1')).toBeNull();
      expect(await store.sessionDelete('acme', 's1')).toBe(false);
    });
  });

  describe('session turns', () => {
    it('runs one turn of a session at a time and in order, other sessions alongside', async () => {
      const { store } = await setup();
      const t1 = (await store.enqueue(turn('s1', 1))).task;
      const t2 = (await store.enqueue(turn('s1', 2))).task;
      const other = (await store.enqueue(turn('s2', 1))).task;
      const first = await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 });
      expect(first.map((t) => t.id)).toEqual([t1.id, other.id]);
      expect(await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 })).toEqual([]);
      await store.complete(t1.id, first[0]?.fence ?? 0, 'ok');
      expect((await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 })).map((t) => t.id)).toEqual([t2.id]);
    });

    it('runs any tasks that name one session one at a time, turns or not', async () => {
      const { store } = await setup();
      const first = (await store.enqueue(req({ sessionId: 's1', input: 1 }))).task;
      const second = (await store.enqueue(turn('s1', 2))).task;
      const [claimed] = await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 });
      expect(claimed?.id).toBe(first.id);
      expect(await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 })).toEqual([]);
      await store.complete(first.id, claimed?.fence ?? 0, 'ok');
      expect((await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 })).map((t) => t.id)).toEqual([second.id]);
    });

    it('keeps a later turn waiting while an earlier one waits for its retry', async () => {
      const { store, clock } = await setup();
      const t1 = (await store.enqueue(turn('s1', 1))).task;
      const t2 = (await store.enqueue(turn('s1', 2))).task;
      const [claimed] = await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 });
      await store.fail(t1.id, claimed?.fence ?? 0, { code: 'E', message: 'm' }, { retryable: true, retryDelayMs: 2000 });
      expect(await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 })).toEqual([]);
      clock.advance(2000);
      expect((await store.claim({ worker: 'w1', n: 10, leaseMs: 1000 })).map((t) => t.id)).toEqual([t1.id]);
      expect((await store.get('acme', t2.id))?.status).toBe('queued');
    });

    it('accepts appends only from the turn that holds the claim', async () => {
      const { store, clock } = await setup();
      const { task } = await store.enqueue(turn('s1', 'hi'));
      const [stale] = await store.claim({ worker: 'w1', n: 1, leaseMs: 1000 });
      const staleWriter = { taskId: task.id, fence: stale?.fence ?? 0 };
      await store.sessionAppend('acme', 's1', ['from first run'], staleWriter);
      clock.advance(1001);
      const [current] = await store.claim({ worker: 'w2', n: 1, leaseMs: 1000 });
      await expect(store.sessionAppend('acme', 's1', ['zombie'], staleWriter)).rejects.toSatisfy((e) => isStoreError(e, 'STALE_FENCE'));
      const writer = { taskId: task.id, fence: current?.fence ?? 0 };
      await expect(store.sessionAppend('acme', 's2', ['wrong session'], writer)).rejects.toSatisfy((e) => isStoreError(e, 'STALE_FENCE'));
      await store.sessionAppend('acme', 's1', ['from second run'], writer);
      await store.complete(task.id, writer.fence, 'ok');
      await expect(store.sessionAppend('acme', 's1', ['after the end'], writer)).rejects.toSatisfy((e) => isStoreError(e, 'STALE_FENCE'));
      expect((await store.sessionGet('acme', 's1'))?.messages).toEqual(['from first run', 'from second run']);
    });
  });
}

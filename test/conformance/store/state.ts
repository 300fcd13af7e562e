// Rate limits, the tool-result cache, stats, cleanup and close.
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../../src/store/errors.ts';
import { req, type Setup } from './harness.ts';

export function stateTests(setup: Setup): void {
  describe('rate limits', () => {
    it('allows a burst, then refuses with the wait until the next request fits', async () => {
      const { store, clock } = await setup();
      const limit = { ratePerSec: 1, burst: 3 };
      const now = clock.now;
      const taken = [];
      for (let i = 0; i < 4; i++) taken.push(await store.rateLimitTake('tenant:acme', limit, now));
      expect(taken.map((t) => [t.allowed, t.remaining, t.retryAfterMs])).toEqual([[true, 2, 0], [true, 1, 0], [true, 0, 0], [false, 0, 1000]]);
      expect(taken[2]?.resetMs).toBe(3000);
      expect((await store.rateLimitTake('tenant:globex', limit, now)).allowed).toBe(true);
      expect((await store.rateLimitTake('tenant:acme', limit, now + 999)).allowed).toBe(false);
      expect(await store.rateLimitTake('tenant:acme', limit, now + 1000)).toMatchObject({ allowed: true, remaining: 0 });
      expect(await store.rateLimitTake('tenant:acme', limit, now + 10_000)).toMatchObject({ allowed: true, remaining: 2 });
    });

    it('takes several requests at once with the decisions of as many takes in a row', async () => {
      const { store, clock } = await setup();
      const limit = { ratePerSec: 2, burst: 5 };
      const now = clock.now;
      const taken: number[] = [];
      // [count, at]: a bucket of 5 takes 3, then 4 (2 fit), then 2 (none fit), then 3 a second later (2 fit).
      for (const [count, at] of [[3, 0], [4, 0], [2, 0], [3, 1000]] as const) {
        const batch = await store.rateLimitTake('batch', limit, now + at, count);
        const single = [];
        for (let i = 0; i < count; i++) single.push(await store.rateLimitTake('single', limit, now + at));
        const allowed = single.filter((r) => r.allowed).length;
        expect(batch.taken).toBe(allowed);
        // The batch's result is the decision on its last allowed request, or on its first refused one.
        const decisive = allowed < count ? single[allowed]! : single[count - 1]!;
        expect([batch.allowed, batch.remaining, batch.retryAfterMs, batch.resetMs])
          .toEqual([decisive.allowed, decisive.remaining, decisive.retryAfterMs, decisive.resetMs]);
        taken.push(batch.taken);
      }
      expect(taken).toEqual([3, 2, 0, 2]);
      await expect(store.rateLimitTake('batch', limit, now, 0)).rejects.toSatisfy((e) => isStoreError(e, 'INVALID_ARGUMENT'));
    });

    it('shares one bucket between handles and rejects a bad limit', async () => {
      const { store, peer, clock } = await setup();
      const other = await peer();
      const limit = { ratePerSec: 10, burst: 5 };
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).rateLimitTake('k', limit, clock.now)));
      expect(results.filter((r) => r.allowed)).toHaveLength(5);
      await expect(store.rateLimitTake('k', { ratePerSec: 0, burst: 1 })).rejects.toSatisfy((e) => isStoreError(e, 'INVALID_ARGUMENT'));
    });
  });

  describe('tool cache', () => {
    it('lets one owner run a tool while a duplicate waits, then serves the result', async () => {
      const { store } = await setup();
      expect(await store.toolClaim('t1', 'search:abc', 'run-1', 5000)).toEqual({ state: 'claimed' });
      expect(await store.toolClaim('t1', 'search:abc', 'run-2', 5000)).toEqual({ state: 'pending', leaseRemainingMs: 5000 });
      expect(await store.toolClaim('t1', 'search:abc', 'run-1', 5000)).toEqual({ state: 'claimed' });
      expect(await store.toolGet('t1', 'search:abc')).toBeNull();
      expect(await store.toolPut('t1', 'search:abc', 'run-2', 'not mine')).toBe(false);
      expect(await store.toolPut('t1', 'search:abc', 'run-1', { hits: 3 })).toBe(true);
      expect(await store.toolClaim('t1', 'search:abc', 'run-2', 5000)).toEqual({ state: 'done', result: { hits: 3 } });
      expect(await store.toolGet('t1', 'search:abc')).toEqual({ result: { hits: 3 } });
      expect(await store.toolClaim('t2', 'search:abc', 'run-2', 5000)).toEqual({ state: 'claimed' });
    });

    it('hands the claim over once the owner lease expired, fencing out the old owner', async () => {
      const { store, clock } = await setup();
      await store.toolClaim('t1', 'send-mail', 'run-1', 5000);
      clock.advance(4000);
      expect(await store.toolClaim('t1', 'send-mail', 'run-2', 5000)).toEqual({ state: 'pending', leaseRemainingMs: 1000 });
      clock.advance(1000);
      expect(await store.toolClaim('t1', 'send-mail', 'run-2', 5000)).toEqual({ state: 'claimed' });
      expect(await store.toolPut('t1', 'send-mail', 'run-1', 'late')).toBe(false);
      expect(await store.toolPut('t1', 'send-mail', 'run-2', null)).toBe(true);
      expect(await store.toolGet('t1', 'send-mail')).toEqual({ result: null });
    });
  });

  describe('stats, cleanup, close', () => {
    it('reports depth by priority, delayed, oldest wait, running and dead', async () => {
      const { store, clock } = await setup();
      expect(await store.stats()).toEqual({ depthByPriority: {}, queued: 0, delayed: 0, oldestWaitMs: 0, running: 0, dead: 0 });
      await store.enqueue(req({ priority: 0 }));
      clock.advance(1000);
      await store.enqueue(req({ priority: 0 }));
      await store.enqueue(req({ priority: 5 }));
      await store.enqueue(req({ priority: 9, maxAttempts: 1 }));
      const [top] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.fail(top?.id ?? '', top?.fence ?? 0, { code: 'E', message: 'm' }, { retryable: false, retryDelayMs: 0 });
      const [next] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.enqueue(req({ priority: 1 }));
      const [again] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.fail(again?.id ?? '', again?.fence ?? 0, { code: 'E', message: 'm' }, { retryable: true, retryDelayMs: 10_000 });
      clock.advance(500);
      expect(next?.priority).toBe(5);
      expect(await store.stats()).toEqual({ depthByPriority: { 0: 2 }, queued: 3, delayed: 1, oldestWaitMs: 1500, running: 1, dead: 1 });
    });

    it('measures the oldest wait from the longest-waiting ready task, not the one first in line', async () => {
      const { store, clock } = await setup();
      const { task: first } = await store.enqueue(req({ maxAttempts: 3 }));
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      clock.advance(1000);
      await store.enqueue(req());
      clock.advance(500);
      // Back first in line (it keeps its place) but ready only from now.
      await store.fail(first.id, claimed?.fence ?? 0, { code: 'E', message: 'm' }, { retryable: true, retryDelayMs: 0 });
      clock.advance(500);
      expect(await store.stats()).toMatchObject({ depthByPriority: { 0: 2 }, queued: 2, delayed: 0, oldestWaitMs: 1000 });
      expect((await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 }))[0]?.id).toBe(first.id);
    });

    it('reports the backlog per tenant: most queued first, running and cancelling counted, idle tenants left out', async () => {
      const { store } = await setup();
      expect(await store.backlogByTenant(10)).toEqual([]);
      for (let i = 0; i < 2; i++) await store.enqueue(req({ tenant: 'globex', priority: 9 }));
      const [, second] = await store.claim({ worker: 'w1', n: 2, leaseMs: 60_000 });
      await store.cancel('globex', second?.id ?? '');
      await store.enqueue(req({ tenant: 'initech', priority: 8 }));
      const [done] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.complete(done?.id ?? '', done?.fence ?? 0, 'ok');
      await store.enqueue(req({ tenant: 'globex', priority: -1 }));
      for (let i = 0; i < 4; i++) await store.enqueue(req({ tenant: 'acme' }));
      const [retried] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.fail(retried?.id ?? '', retried?.fence ?? 0, { code: 'E', message: 'm' }, { retryable: true, retryDelayMs: 10_000 });
      await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.enqueue(req({ tenant: 'umbrella' }));
      await store.enqueue(req({ tenant: 'bigco' }));
      expect(await store.backlogByTenant(10)).toEqual([
        { tenant: 'acme', queued: 3, running: 1 },
        { tenant: 'globex', queued: 1, running: 2 },
        { tenant: 'bigco', queued: 1, running: 0 },
        { tenant: 'umbrella', queued: 1, running: 0 },
      ]);
      expect((await store.backlogByTenant(2)).map((b) => b.tenant)).toEqual(['acme', 'globex']);
      await expect(store.backlogByTenant(0)).rejects.toSatisfy((e) => isStoreError(e, 'INVALID_ARGUMENT'));
    });

    it('removes finished tasks with their events and tool results after the result TTL, and expired sessions', async () => {
      const { store, clock } = await setup({ resultTtlMs: 60_000, sessionTtlMs: 30_000 });
      const done = (await store.enqueue(req({ idempotencyKey: 'once' }))).task;
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 120_000 });
      await store.publish(done.id, claimed?.fence ?? 0, 'progress');
      await store.toolClaim(done.id, 'k', 'o', 1000);
      await store.toolPut(done.id, 'k', 'o', 'r');
      await store.complete(done.id, claimed?.fence ?? 0, 'result');
      const doomed = (await store.enqueue(req())).task;
      const [last] = await store.claim({ worker: 'w1', n: 1, leaseMs: 120_000 });
      await store.fail(doomed.id, last?.fence ?? 0, { code: 'E', message: 'm' }, { retryable: false, retryDelayMs: 0 });
      const waiting = (await store.enqueue(req())).task;
      await store.sessionAppend('acme', 'old', ['x']);
      clock.advance(59_999);
      await store.sessionAppend('acme', 'fresh', ['y']);
      expect(await store.cleanup()).toEqual({ tasks: 0, sessions: 1 });
      expect(await store.get('acme', done.id)).not.toBeNull();
      clock.advance(2);
      expect(await store.cleanup()).toEqual({ tasks: 2, sessions: 0 });
      expect(await store.get('acme', done.id)).toBeNull();
      expect(await store.get('acme', doomed.id)).toBeNull();
      expect(await store.stats()).toMatchObject({ queued: 1, running: 0, dead: 0 });
      expect(await store.events(done.id, 0)).toEqual([]);
      expect(await store.toolGet(done.id, 'k')).toBeNull();
      expect((await store.get('acme', waiting.id))?.status).toBe('queued');
      expect((await store.sessionGet('acme', 'fresh'))?.messages).toEqual(['y']);
      expect((await store.enqueue(req({ idempotencyKey: 'once' }))).created).toBe(true);
    });

    it('rejects calls after close with STORE_CLOSED', async () => {
      const { store } = await setup();
      await store.close();
      await expect(store.enqueue(req())).rejects.toSatisfy((e) => isStoreError(e, 'STORE_CLOSED'));
    });
  });
}

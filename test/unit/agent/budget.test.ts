import { describe, expect, it } from 'vitest';
import { Budget, Semaphore, TokenBucket } from '../../../src/agent/llm/budget.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore', () => {
  it('admits up to its limit and then serves waiters first come, first served', async () => {
    const s = new Semaphore(2);
    await s.acquire();
    await s.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => s.acquire().then(() => order.push(n)));
    await tick();
    expect(order).toEqual([]);
    expect(s.waiting).toBe(3);
    s.release();
    s.release();
    await tick();
    expect(order).toEqual([1, 2]);
    s.release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(s.inUse).toBe(2);
  });

  it('drops a waiter whose signal fires; the next one gets the slot', async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const ac = new AbortController();
    const gone = s.acquire(ac.signal);
    const next = s.acquire();
    ac.abort();
    await expect(gone).rejects.toMatchObject({ code: 'LLM_ABORTED' });
    s.release();
    await next;
    expect(s.inUse).toBe(1);
    expect(s.waiting).toBe(0);
  });
});

describe('TokenBucket', () => {
  it('starts full, refills at perMinute/60000 per ms, and says how long to wait', () => {
    let now = 0;
    const b = new TokenBucket(600, () => now); // 10 tokens a second
    expect(b.tryTake(600)).toBe(0);
    expect(b.tryTake(10)).toBe(1_000);
    now = 500;
    expect(b.tryTake(10)).toBe(500);
    now = 1_000;
    expect(b.tryTake(10)).toBe(0);
  });

  it('carries the debt of a call that used more than its estimate', () => {
    let now = 0;
    const b = new TokenBucket(600, () => now);
    expect(b.tryTake(600)).toBe(0);
    b.adjust(-60); // used 60 more than taken
    expect(b.tryTake(10)).toBe(7_000);
  });

  it('lets a request larger than the whole budget through once the bucket is full', () => {
    const b = new TokenBucket(600, () => 0);
    expect(b.tryTake(5_000)).toBe(0);
  });
});

describe('Budget', () => {
  it('holds a slot until the lease is released, once', async () => {
    const budget = new Budget(1, 0);
    const lease = await budget.acquire(10);
    expect(budget.inFlight).toBe(1);
    lease.release(10);
    lease.release(10);
    expect(budget.inFlight).toBe(0);
    const again = await budget.acquire(10);
    again.release(0);
    expect(budget.inFlight).toBe(0);
  });

  it('gives back unused tokens when a lease is released with less than its estimate', async () => {
    let now = 0;
    const budget = new Budget(10, 600, () => now);
    const lease = await budget.acquire(600);
    lease.release(100); // 500 come back
    const t0 = performance.now();
    (await budget.acquire(500)).release(500);
    expect(performance.now() - t0).toBeLessThan(100);
  });
});

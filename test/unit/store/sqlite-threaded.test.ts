import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { MessageChannel, Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../src/store/sqlite/index.ts';
import { openThreadedSqliteStore } from '../../../src/store/sqlite/threaded.ts';
import type { PortAnswer, PortCall, Store } from '../../../src/store/types.ts';
import { runStoreConformance } from '../../conformance/store.ts';

// The store a child serves: writes batched in a thread of its own (src/store/sqlite/thread.ts).
runStoreConformance('sqlite, writes in a thread', async (opts) => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-store-'));
  const path = join(dir, 'drover.db');
  return {
    store: await openThreadedSqliteStore({ ...opts, path }),
    openPeer: () => openThreadedSqliteStore({ ...opts, path }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('sqlite store, writes in a thread', () => {
  const dirs: string[] = [];
  const tempPath = () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-store-'));
    dirs.push(dir);
    return join(dir, 'drover.db');
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const options = (path: string) => ({ path, queueLimit: 1_000_000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });

  it('answers each call of a batch for itself: one refused does not undo the others', async () => {
    const store = await openThreadedSqliteStore({ ...options(tempPath()), queueLimit: 2 });
    try {
      // Sent in one turn, so the thread commits them together.
      const results = await Promise.allSettled([0, 1, 2].map((i) => store.enqueue({ tenant: 'acme', input: i, maxAttempts: 1, timeoutMs: 1000 })));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: 'QUEUE_FULL' } });
      expect((await store.list('acme', { limit: 10 })).map((t) => t.input)).toEqual([1, 0]);
    } finally {
      await store.close();
    }
  });

  // The thread writes a batch's completions together (completeAll): each answers as it would alone.
  it.each([
    ['a batch of completions', false],
    ['a batch of completions that a failing call sends through one savepoint each', true],
  ] as const)('%s: each answers for its own claim, and stores its result, final event, attempt and count', async (_name, withFailure) => {
    const path = tempPath();
    const store = await openThreadedSqliteStore(options(path));
    const db = new DatabaseSync(path);
    try {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await store.enqueue({ tenant: 'acme', input: i, maxAttempts: 1, timeoutMs: 60_000, idempotencyKey: `k${i}`, requestHash: 'h' })).task.id);
      const claimed = await store.claim({ worker: 'w1', n: 5, leaseMs: 60_000 });
      const [a, b, c, d, e] = ids.map((id) => claimed.find((t) => t.id === id)!);
      await store.cancel('acme', c!.id);
      const watched: unknown[] = [];
      const unsubscribe = store.subscribe(d!.id, 0, (ev) => watched.push(ev.event), () => undefined);
      // One turn: a progress event of e before its completion, a stale claim, a cancelled task
      // whose result still wins, a completion sent twice; and, in one case, a call that fails.
      const sent = [
        store.publish(e!.id, e!.fence, { step: 'last' }),
        store.complete(a!.id, a!.fence, { n: 'a' }),
        store.complete(b!.id, b!.fence + 1, { n: 'stale' }),
        store.complete(c!.id, c!.fence, { n: 'c' }),
        store.complete(a!.id, a!.fence, { n: 'a again' }),
        ...(withFailure ? [store.enqueue({ tenant: 'acme', input: 'x', maxAttempts: 1, timeoutMs: 60_000, idempotencyKey: 'k0', requestHash: 'other' })] : []),
        store.complete(d!.id, d!.fence, { n: 'd' }),
        store.complete(e!.id, e!.fence, { n: 'e' }),
      ];
      const results = await Promise.allSettled(sent);
      expect(results.map((r) => (r.status === 'fulfilled' ? typeof r.value === 'boolean' ? r.value : 'other' : (r.reason as { code: string }).code)))
        .toEqual(['other', true, false, true, false, ...(withFailure ? ['IDEMPOTENCY_MISMATCH'] : []), true, true]);
      const tasks = new Map((await store.list('acme', { limit: 10 })).map((t) => [t.id, t]));
      expect([a, b, c, d, e].map((t) => [tasks.get(t!.id)!.status, tasks.get(t!.id)!.result])).toEqual([
        ['succeeded', { n: 'a' }], ['running', null], ['succeeded', { n: 'c' }], ['succeeded', { n: 'd' }], ['succeeded', { n: 'e' }],
      ]);
      for (const t of [a, c, d, e]) {
        const task = tasks.get(t!.id)!;
        expect(task.attempts).toEqual([{ n: 1, error: null, startedAt: task.startedAt, finishedAt: task.finishedAt }]);
        const events = await store.events(t!.id, 0);
        expect(events.at(-1)).toMatchObject({ final: true, event: { type: 'status', status: 'succeeded', attempt: 1, result: task.result } });
        expect(events.map((ev) => ev.seq)).toEqual(events.map((_, k) => k + 1));
      }
      expect((await store.events(e!.id, 0)).map((ev) => ev.event)).toContainEqual({ step: 'last' });
      await expect.poll(() => watched.at(-1)).toMatchObject({ type: 'status', status: 'succeeded', result: { n: 'd' } });
      unsubscribe();
      const kept = db.prepare('SELECT status, n FROM task_counts WHERE n <> 0 ORDER BY status').all();
      expect(kept).toEqual(db.prepare('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status ORDER BY status').all());
      expect(kept).toContainEqual({ status: 'succeeded', n: 4 });
    } finally {
      db.close();
      await store.close();
    }
  });

  // The thread writes a batch's progress events together (publishAll): each answers as it would alone.
  it('writes the progress events of a batch in order: consecutive numbers per task, a stale claim\'s dropped, and all before a later call that ends their task', async () => {
    const store = await openThreadedSqliteStore(options(tempPath()));
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await store.enqueue({ tenant: 'acme', input: i, maxAttempts: 1, timeoutMs: 60_000 })).task.id);
      const claimed = await store.claim({ worker: 'w1', n: 3, leaseMs: 60_000 });
      const [a, b, c] = ids.map((id) => claimed.find((t) => t.id === id)!);
      const lastSeq = async (id: string) => (await store.events(id, 0)).at(-1)?.seq ?? 0;
      const [a0, b0] = [await lastSeq(a!.id), await lastSeq(b!.id)];
      const watched: unknown[] = [];
      const unsubscribe = store.subscribe(b!.id, b0, (ev) => watched.push(ev.event), () => undefined);
      // One turn, so one batch: progress of two tasks interleaved, a tool claim between them, a
      // stale fence, and b's completion with a progress event of b after it.
      const answers = await Promise.all([
        store.publish(a!.id, a!.fence, { a: 1 }),
        store.publish(b!.id, b!.fence, { b: 1 }),
        store.toolClaim(a!.id, 'search', 'w1', 60_000),
        store.publish(a!.id, a!.fence, { a: 2 }),
        store.publish(c!.id, c!.fence + 1, { stale: true }),
        store.publish(b!.id, b!.fence, { b: 2 }),
        store.complete(b!.id, b!.fence, 'done'),
        store.publish(b!.id, b!.fence, { late: true }),
        store.publish(a!.id, a!.fence, { a: 3 }),
      ]);
      expect(answers).toEqual([a0 + 1, b0 + 1, { state: 'claimed' }, a0 + 2, null, b0 + 2, true, null, a0 + 3]);
      expect((await store.events(a!.id, a0)).map((e) => [e.seq, e.event, e.final])).toEqual([
        [a0 + 1, { a: 1 }, false], [a0 + 2, { a: 2 }, false], [a0 + 3, { a: 3 }, false],
      ]);
      const ofB = await store.events(b!.id, b0);
      expect(ofB.map((e) => [e.seq, e.final])).toEqual([[b0 + 1, false], [b0 + 2, false], [b0 + 3, true]]);
      expect(ofB.map((e) => e.event)).toEqual([{ b: 1 }, { b: 2 }, expect.objectContaining({ status: 'succeeded', result: 'done' })]);
      expect(await lastSeq(c!.id)).toBe((await store.events(c!.id, 0)).length);
      expect((await store.events(c!.id, 0)).map((e) => e.event)).not.toContainEqual({ stale: true });
      await expect.poll(() => watched.length).toBe(3);
      expect(watched.slice(0, 2)).toEqual([{ b: 1 }, { b: 2 }]);
      unsubscribe();
    } finally {
      await store.close();
    }
  });

  it('undoes only the failed call of a batch, even one that failed after it wrote: no gap in the event numbers', async () => {
    const store = await openThreadedSqliteStore(options(tempPath()));
    try {
      const { task } = await store.enqueue({ tenant: 'acme', input: 'x', maxAttempts: 1, timeoutMs: 60_000 });
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      // The middle event passes the thread's message port but not JSON: its publish has counted
      // the task's next event number before it throws.
      const results = await Promise.allSettled([{ step: 'a' }, { step: 1n }, { step: 'c' }].map((e) => store.publish(task.id, claimed!.fence, e)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const progress = (await store.events(task.id, 0)).filter((e) => !(e.event as { type?: string }).type);
      const seqs = progress.map((e) => e.seq);
      expect(progress.map((e) => e.event)).toEqual([{ step: 'a' }, { step: 'c' }]);
      expect(seqs[1]).toBe(seqs[0]! + 1);
      expect(results[2]).toEqual({ status: 'fulfilled', value: seqs[1] });
    } finally {
      await store.close();
    }
  });

  it.each([
    ['threaded', openThreadedSqliteStore],
    ['in-thread', openSqliteStore],
  ] as const)('%s: completeAndClaim completes a task and claims the next in one call, and still claims when the fence was stale', async (_name, open) => {
    const store = await open(options(tempPath()));
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await store.enqueue({ tenant: 'acme', input: i, maxAttempts: 1, timeoutMs: 1000 })).task.id);
      const [first] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      const r = await store.completeAndClaim?.(first!.id, first!.fence, { answer: 1 }, { worker: 'w1', n: 1, leaseMs: 60_000 });
      expect(r?.completed).toBe(true);
      expect(r?.claimed.map((t) => [t.id, t.status, t.worker])).toEqual([[ids[1], 'running', 'w1']]);
      expect(await store.get('acme', ids[0]!)).toMatchObject({ status: 'succeeded', result: { answer: 1 } });
      expect((await store.events(ids[0]!, 0)).at(-1)).toMatchObject({ final: true, event: { status: 'succeeded' } });
      const stale = await store.completeAndClaim?.(first!.id, first!.fence, 'again', { worker: 'w1', n: 5, leaseMs: 60_000 });
      expect(stale?.completed).toBe(false);
      expect(stale?.claimed.map((t) => t.id)).toEqual([ids[2]]);
    } finally {
      await store.close();
    }
  });

  it('runs a call on the time it runs at, not the time it was sent: a lease granted after a wait behind the write lock is whole', async () => {
    const path = tempPath();
    const store = await openThreadedSqliteStore(options(path));
    try {
      const task = (await store.enqueue({ tenant: 'acme', input: 1, maxAttempts: 1, timeoutMs: 1000 })).task;
      const { released } = await holdWriteLock(path, 1000);
      const [claimed] = await store.claim({ worker: 'w1', n: 1, leaseMs: 2000 });
      // Sent while the lock was held, granted after it was let go: the lease runs from then.
      expect(claimed?.id).toBe(task.id);
      expect(claimed!.leaseUntil).toBeGreaterThanOrEqual((await released) + 2000);
    } finally {
      await store.close();
    }
  });

  it('answers a write only after its commit, so a process killed with writes accepted but not committed lost none it answered', async () => {
    const path = tempPath();
    (await openThreadedSqliteStore(options(path))).close();
    const child = fork(join(import.meta.dirname, 'fixtures', 'submitter.ts'), [path], { execPath: process.execPath, stdio: 'inherit' });
    const acked: string[] = [];
    let sent = 0;
    child.on('message', (m: { type: string; id?: string; sent?: number }) => {
      if (m.type !== 'acked') return;
      acked.push(m.id!);
      sent = m.sent!;
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const lock = new DatabaseSync(path, { timeout: 10_000 });
    try {
      while (acked.length < 200) await sleep(10);
      // Another process takes the write lock: the child's writes now wait in its thread.
      lock.exec('BEGIN IMMEDIATE');
      await sleep(250); // answers sent before the lock was taken arrive, even on a loaded machine
      const ackedAtLock = acked.length;
      await sleep(300);
      expect(acked.length).toBe(ackedAtLock); // nothing answered while nothing can commit
      expect(sent).toBeGreaterThan(ackedAtLock); // and writes were accepted, waiting
      child.kill('SIGKILL');
      await exited;
      lock.exec('ROLLBACK');
    } finally {
      child.kill('SIGKILL');
      lock.close();
    }
    const store = await openSqliteStore(options(path));
    try {
      const missing: string[] = [];
      for (const id of acked) if (!(await store.get('acme', id))) missing.push(id);
      expect(missing).toEqual([]);
    } finally {
      await store.close();
    }
  });

  // A write that waits on the lock blocks the in-thread store's caller for as long as the
  // lock is held; the threaded store's caller keeps turning. Each call returns to its caller
  // within 5 ms (the 99th percentile: a loaded machine preempts a few); the loop's own delay
  // is bounded by half the 500 ms hold, not a few ms: on a loaded 2-core machine the loop
  // stalls ~100 ms for reasons of its own.
  it.each([
    ['threaded', openThreadedSqliteStore, (loopMs: number, callMs: readonly number[]) => {
      expect(loopMs).toBeLessThan(250);
      expect(callMs[Math.ceil(callMs.length * 0.99) - 1]).toBeLessThan(5);
    }],
    // One call takes the whole wait; the calls after it find the lock free.
    ['in-thread (the control)', openSqliteStore, (loopMs: number, callMs: readonly number[]) => {
      expect(loopMs).toBeGreaterThan(400);
      expect(callMs.at(-1)).toBeGreaterThan(400);
    }],
  ] as const)('%s: a burst of submissions while another connection holds the write lock for 500 ms', async (_name, open, expectBlocking) => {
    const path = tempPath();
    const store = await open(options(path));
    const delay = monitorEventLoopDelay({ resolution: 1 });
    try {
      const { released } = await holdWriteLock(path, 500);
      delay.enable();
      // The histogram counts from its second tick: a loop held before its first would not show.
      await sleep(5);
      const answered: number[] = [];
      const callMs: number[] = [];
      await Promise.all(Array.from({ length: 500 }, async (_, i) => {
        await sleep(i % 50); // submissions spread over the hold, as requests arrive
        const called = performance.now();
        const submitted = store.enqueue({ tenant: 'acme', input: i, maxAttempts: 1, timeoutMs: 1000 });
        callMs.push(performance.now() - called); // the time the call held its caller
        await submitted;
        answered.push(Date.now());
      }));
      delay.disable();
      expect(answered).toHaveLength(500);
      expect(Math.min(...answered)).toBeGreaterThanOrEqual((await released) - 20); // none before the lock was let go
      expectBlocking(delay.max / 1e6, callMs.sort((a, b) => a - b));
    } finally {
      delay.disable();
      await store.close();
    }
  });

  // Events this process commits reach its own subscribers at the commit; the poll (here once a
  // minute) is for events other processes write.
  it.each([
    ['threaded', openThreadedSqliteStore],
    ['in-thread', openSqliteStore],
  ] as const)('%s: a subscriber gets the events its own process commits without waiting for a poll', async (_name, open) => {
    const store = await open({ ...options(tempPath()), pollMs: 60_000 });
    try {
      const { task: watched } = await store.enqueue({ tenant: 'acme', input: 'watched', maxAttempts: 1, timeoutMs: 60_000 });
      await store.enqueue({ tenant: 'acme', input: 'unwatched', maxAttempts: 1, timeoutMs: 60_000 });
      const got: unknown[] = [];
      store.subscribe(watched.id, 0, (e) => got.push(e.event));
      const claimed = await store.claim({ worker: 'w1', n: 2, leaseMs: 60_000 });
      for (const t of claimed) {
        await store.publish(t.id, t.fence, { step: t.input });
        await store.complete(t.id, t.fence, { answer: t.input });
      }
      const deadline = Date.now() + 2_000;
      while (got.length < 3 && Date.now() < deadline) await sleep(10);
      expect(got).toEqual([
        { type: 'status', status: 'running', attempt: 1 },
        { step: 'watched' },
        { type: 'status', status: 'succeeded', attempt: 1, result: { answer: 'watched' } },
      ]);
    } finally {
      await store.close();
    }
  });

  describe('a port connected for another thread (Store.connectPort)', () => {
    /** The other thread's side: calls sent in one message, answers gathered by id. */
    function portClient(store: Store) {
      const { port1, port2 } = new MessageChannel();
      store.connectPort!(port2);
      const answers = new Map<number, PortAnswer>();
      const arrived: (() => void)[] = [];
      port1.on('message', (list: PortAnswer[]) => {
        for (const a of list) answers.set(a.id, a);
        for (const wake of arrived.splice(0)) wake();
      });
      const closed = new Promise<void>((resolve) => port1.once('close', () => resolve()));
      return {
        closed,
        close: () => port1.close(),
        async send(calls: PortCall[]): Promise<PortAnswer[]> {
          port1.postMessage(calls);
          while (!calls.every((c) => answers.has(c.id))) await new Promise<void>((resolve) => arrived.push(resolve));
          return calls.map((c) => answers.get(c.id)!);
        },
      };
    }

    it('commits its writes and answers them on the port; events of a watched task reach the store\'s subscribers', async () => {
      const store = await openThreadedSqliteStore(options(tempPath()));
      const client = portClient(store);
      try {
        await store.enqueue({ tenant: 'acme', input: 'x', maxAttempts: 1, timeoutMs: 10_000 });
        const [t] = await store.claim({ worker: 'w', n: 1, leaseMs: 10_000 });
        const seen: unknown[] = [];
        const unsubscribe = store.subscribe(t!.id, 0, (e) => seen.push(e.event));
        await sleep(100); // the thread hears of the subscriber
        const answers = await client.send([
          { id: 1, name: 'toolClaim', args: [t!.id, 'search', 'owner-1', 5_000] },
          { id: 2, name: 'toolPut', args: [t!.id, 'search', 'owner-1', { hits: 3 }] },
          { id: 3, name: 'publish', args: [t!.id, t!.fence, { step: 'searched' }] },
          { id: 4, name: 'publish', args: [t!.id, t!.fence + 1, { step: 'from a lost claim' }] },
        ]);
        expect(answers).toEqual([
          { id: 1, ok: true, value: { state: 'claimed' } },
          { id: 2, ok: true, value: true },
          { id: 3, ok: true, value: expect.any(Number) },
          { id: 4, ok: true, value: null },
        ]);
        expect(await store.toolGet(t!.id, 'search')).toEqual({ result: { hits: 3 } });
        const deadline = Date.now() + 2_000;
        while (!seen.some((e) => (e as { step?: string }).step === 'searched') && Date.now() < deadline) await sleep(20);
        expect(seen).toContainEqual({ step: 'searched' });
        unsubscribe();
      } finally {
        client.close();
        await store.close();
      }
    });

    it('runs nothing but the writes a port is for', async () => {
      const store = await openThreadedSqliteStore(options(tempPath()));
      const client = portClient(store);
      try {
        const enqueue = { tenant: 'acme', input: 'x', maxAttempts: 1, timeoutMs: 10_000 };
        const [answer] = await client.send([{ id: 1, name: 'enqueue' as PortCall['name'], args: [enqueue] }]);
        expect(answer).toMatchObject({ id: 1, ok: false, error: { message: 'enqueue cannot be called over a store port' } });
        expect((await store.stats()).queued).toBe(0);
      } finally {
        client.close();
        await store.close();
      }
    });

    it('closes the port when the store closes, and a port closed by its thread leaves the store serving', async () => {
      const store = await openThreadedSqliteStore(options(tempPath()));
      const gone = portClient(store);
      gone.close();
      await gone.closed;
      const kept = portClient(store);
      await store.enqueue({ tenant: 'acme', input: 'x', maxAttempts: 1, timeoutMs: 10_000 });
      expect((await store.stats()).queued).toBe(1);
      await store.close();
      await kept.closed;
    });
  });
});

/** Another connection, in a thread of its own (the in-thread store blocks this one), takes the
 * write lock; resolves once it holds it, with a promise of when it let go. */
async function holdWriteLock(path: string, ms: number): Promise<{ released: Promise<number> }> {
  const holder = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { DatabaseSync } = require('node:sqlite');
     const db = new DatabaseSync(workerData.path, { timeout: 10000 });
     db.exec('BEGIN IMMEDIATE');
     parentPort.postMessage('held');
     setTimeout(() => {
       db.exec('COMMIT');
       parentPort.postMessage(Date.now());
       db.close();
     }, workerData.ms);`,
    { eval: true, workerData: { path, ms } },
  );
  const next = () => new Promise<unknown>((resolve, reject) => {
    holder.once('message', resolve);
    holder.once('error', reject);
  });
  await next();
  return { released: next().then((at) => at as number) };
}

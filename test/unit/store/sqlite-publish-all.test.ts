import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ctx } from '../../../src/store/sqlite/context.ts';
import { publishAll, type Progress } from '../../../src/store/sqlite/events.ts';
import { openSqliteStore } from '../../../src/store/sqlite/index.ts';
import { openDb } from '../../../src/store/sqlite/open.ts';
import type { ClaimedTask, Store } from '../../../src/store/types.ts';

// publishAll is the store thread's batch of progress events (thread.ts); the thread falls back to
// one publish per call when it throws, so only a direct call shows it is right on its own.
describe('sqlite store: publishAll', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** Three claimed tasks and a finished one, and a connection of our own on the same file. */
  async function setup(): Promise<{ store: Store; tasks: ClaimedTask[]; ctx: Ctx; delivered: [string, unknown][] }> {
    const dir = mkdtempSync(join(tmpdir(), 'drover-store-'));
    dirs.push(dir);
    const path = join(dir, 'drover.db');
    const store = await openSqliteStore({ path, queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });
    for (let i = 0; i < 4; i++) await store.enqueue({ tenant: 'acme', input: i, maxAttempts: 1, timeoutMs: 60_000 });
    const tasks = await store.claim({ worker: 'w1', n: 4, leaseMs: 60_000 });
    await store.complete(tasks[3]!.id, tasks[3]!.fence, 'finished');
    const delivered: [string, unknown][] = [];
    const ctx: Ctx = {
      db: openDb(path, { busyTimeoutMs: 1000 }),
      clock: Date.now,
      opts: { queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000 },
      hub: { wants: (id) => id === tasks[1]!.id, dispatch: (id, e) => delivered.push([id, e.event]) },
    };
    return { store, tasks, ctx, delivered };
  }

  const script = (t: ClaimedTask[]): Progress[] => [
    { taskId: t[0]!.id, fence: t[0]!.fence, event: { n: 1 } },
    { taskId: t[1]!.id, fence: t[1]!.fence, event: 'two' },
    { taskId: t[0]!.id, fence: t[0]!.fence, event: { n: 3, quote: 'a "b" \\ c' } },
    { taskId: t[2]!.id, fence: t[2]!.fence + 1, event: { stale: true } },
    { taskId: t[3]!.id, fence: t[3]!.fence, event: { finished: true } },
    { taskId: t[1]!.id, fence: t[1]!.fence, event: [4, null] },
    { taskId: t[0]!.id, fence: t[0]!.fence, event: null },
  ];

  /** Each task's events as (seq, final, event), the seqs counted from the task's own first. */
  const eventsOf = async (store: Store, tasks: ClaimedTask[]) =>
    Promise.all(tasks.map(async (t) => (await store.events(t.id, 0)).map((e) => [e.seq, e.final, e.event])));

  it('answers and stores what one publish per event would: seqs in order per task, nulls for a stale fence and a finished task', async () => {
    const batch = await setup();
    const alone = await setup();
    try {
      const together = publishAll(batch.ctx, script(batch.tasks));
      const oneByOne = [];
      for (const p of script(alone.tasks)) oneByOne.push(await alone.store.publish(p.taskId, p.fence, p.event));
      expect(together).toEqual(oneByOne);
      expect(together.filter((s) => s === null)).toHaveLength(2);
      expect(await eventsOf(batch.store, batch.tasks)).toEqual(await eventsOf(alone.store, alone.tasks));
      expect((await batch.store.events(batch.tasks[0]!.id, 0)).slice(-3).map((e) => e.event)).toEqual([{ n: 1 }, { n: 3, quote: 'a "b" \\ c' }, null]);
      // The next event of a task takes the number after the batch's.
      expect(await batch.store.publish(batch.tasks[0]!.id, batch.tasks[0]!.fence, 'next')).toBe(together[6]! + 1);
      // A watched task's events reach its subscribers after the commit, as stored.
      expect(batch.delivered).toEqual([[batch.tasks[1]!.id, 'two'], [batch.tasks[1]!.id, [4, null]]]);
    } finally {
      for (const s of [batch, alone]) {
        s.ctx.db.close();
        await s.store.close();
      }
    }
  });

  it('throws, writing nothing, when an event is not JSON: the thread then runs the calls one by one', async () => {
    const { store, tasks, ctx } = await setup();
    try {
      const before = await eventsOf(store, tasks);
      expect(() => publishAll(ctx, [
        { taskId: tasks[0]!.id, fence: tasks[0]!.fence, event: 'fine' },
        { taskId: tasks[1]!.id, fence: tasks[1]!.fence, event: { n: 1n } },
      ])).toThrow();
      expect(await eventsOf(store, tasks)).toEqual(before);
    } finally {
      ctx.db.close();
      await store.close();
    }
  });
});

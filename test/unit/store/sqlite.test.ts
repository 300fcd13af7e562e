import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/index.ts';
import { isStoreError } from '../../../src/store/errors.ts';
import { openSqliteStore } from '../../../src/store/sqlite/index.ts';
import { openDb } from '../../../src/store/sqlite/open.ts';
import { CLAIMABLE } from '../../../src/store/sqlite/queue.ts';
import { openThreadedSqliteStore } from '../../../src/store/sqlite/threaded.ts';
import { runStoreConformance } from '../../conformance/store.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';

runStoreConformance('sqlite', async (opts) => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-store-'));
  const path = join(dir, 'drover.db');
  return {
    store: await openSqliteStore({ ...opts, path }),
    openPeer: () => openSqliteStore({ ...opts, path }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('sqlite store', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-store-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('hands each task to exactly one of several processes claiming from one file', async () => {
    const path = join(tempDir(), 'drover.db');
    const store = await openSqliteStore({ path, queueLimit: 100_000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });
    const ids = new Set<string>();
    for (let i = 0; i < 300; i++) ids.add((await store.enqueue({ tenant: 'acme', input: i, maxAttempts: 3, timeoutMs: 1000 })).task.id);

    const script = join(import.meta.dirname, 'fixtures', 'claimer.ts');
    const children = ['w1', 'w2', 'w3'].map((w) => fork(script, [path, w], { execPath: process.execPath, stdio: 'inherit' }));
    try {
      const messages = children.map(
        (child) => (type: string) =>
          new Promise<{ ids?: string[] }>((resolve, reject) => {
            const onMessage = (m: { type: string; ids?: string[] }) => {
              if (m.type !== type) return;
              child.off('message', onMessage);
              resolve(m);
            };
            child.on('message', onMessage);
            child.once('exit', (code) => reject(new Error(`claimer exited with ${code} before ${type}`)));
          }),
      );
      const done = children.map((_, i) => messages[i]?.('done'));
      await Promise.all(children.map((_, i) => messages[i]?.('ready')));
      for (const child of children) child.send('go');
      const reports = await Promise.all(done);

      const claimed = reports.flatMap((r) => r?.ids ?? []);
      expect(claimed).toHaveLength(300);
      expect(new Set(claimed)).toEqual(ids);
      expect(reports.filter((r) => (r?.ids?.length ?? 0) > 0).length).toBeGreaterThan(1);
      const finished = await store.list('acme', { limit: 1000, status: 'succeeded' });
      expect(finished).toHaveLength(300);
      expect(finished.every((t) => t.attempt === 1)).toBe(true);
    } finally {
      for (const child of children) child.kill();
      await store.close();
    }
  });

  // The counters stats(), the queue cap and the backlog per tenant read must equal a count of
  // the rows after every kind of status change, batched (threaded) or not.
  it.each([
    ['in-thread', openSqliteStore],
    ['threaded', openThreadedSqliteStore],
  ] as const)('%s: keeps the counts by status, priority and tenant equal to the tasks through every change', async (_name, open) => {
    const path = join(tempDir(), 'drover.db');
    const store = await open({ path, queueLimit: 100_000, resultTtlMs: 1000, sessionTtlMs: 60_000 });
    const db = new DatabaseSync(path);
    const check = () => {
      const kept = db.prepare('SELECT status, priority, n FROM task_counts WHERE n <> 0 ORDER BY status, priority').all();
      const counted = db.prepare('SELECT status, priority, COUNT(*) AS n FROM tasks GROUP BY status, priority ORDER BY status, priority').all();
      expect(kept).toEqual(counted);
      const keptByTenant = db.prepare('SELECT tenant, status, n FROM tenant_counts WHERE n <> 0 ORDER BY tenant, status').all();
      const countedByTenant = db.prepare('SELECT tenant, status, COUNT(*) AS n FROM tasks GROUP BY tenant, status ORDER BY tenant, status').all();
      expect(keptByTenant).toEqual(countedByTenant);
    };
    try {
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) =>
        store.enqueue({ tenant: i % 2 ? 'acme' : 'umbrella', priority: i % 3 === 0 ? 5 : 0, input: i, maxAttempts: 2, timeoutMs: 60_000 }).then((r) => r.task.id)));
      check();
      const claimed = await store.claim({ worker: 'w1', n: 24, leaseMs: 60_000 });
      check();
      const [done, retried, dead, released, cancelledRunning] = [0, 6, 10, 13, 15].map((at, k, all) => claimed.slice(at, all[k + 1] ?? 18));
      await Promise.all([
        ...done!.map((t) => store.complete(t.id, t.fence, 'ok')),
        ...retried!.map((t) => store.fail(t.id, t.fence, { code: 'X', message: 'again' }, { retryable: true, retryDelayMs: 0 })),
        ...dead!.map((t) => store.fail(t.id, t.fence, { code: 'X', message: 'no' }, { retryable: false, retryDelayMs: 0 })),
        ...released!.map((t) => store.release(t.id, t.fence)),
        ...cancelledRunning!.map((t) => store.cancel(t.tenant, t.id)),
        ...ids.filter((id) => !claimed.some((t) => t.id === id)).slice(0, 4).map((id, i) => store.cancel(i % 2 ? 'acme' : 'umbrella', id)),
      ]);
      check();
      // A result that comes after a cancel still wins (cancelling → succeeded); a stale one changes nothing.
      const [late] = await store.claim({ worker: 'w1', n: 1, leaseMs: 60_000 });
      await store.cancel(late!.tenant, late!.id);
      expect(await Promise.all([store.complete(late!.id, late!.fence, 'late'), store.complete(late!.id, late!.fence + 1, 'stale')])).toEqual([true, false]);
      check();
      // A call that fails in a batch after others counted (threaded: they share one transaction,
      // which runs again without it) leaves the others counted once.
      const batch = await Promise.allSettled([
        store.enqueue({ tenant: 'acme', input: 'a', idempotencyKey: 'k', requestHash: 'a', maxAttempts: 1, timeoutMs: 60_000 }),
        store.enqueue({ tenant: 'umbrella', input: 'b', maxAttempts: 1, timeoutMs: 60_000 }),
        store.enqueue({ tenant: 'acme', input: 'c', idempotencyKey: 'k', requestHash: 'c', maxAttempts: 1, timeoutMs: 60_000 }),
      ]);
      expect(batch.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      check();
      // A cancelled running task ends when its holder gives up; the rest of the claims lapse.
      await Promise.all(cancelledRunning!.map((t) => store.fail(t.id, t.fence, { code: 'CANCELLED', message: 'stop' }, { retryable: false, retryDelayMs: 0 })));
      await store.claim({ worker: 'w2', n: 100, leaseMs: 1 });
      check();
      expect(await store.reapExpired(Date.now() + 60_000)).toBeGreaterThan(0);
      check();
      await store.cleanup(Date.now() + 60_000);
      check();
    } finally {
      db.close();
      await store.close();
    }
  });

  it('migrates a new file to the current schema once and reopens it', async () => {
    const path = join(tempDir(), 'drover.db');
    const first = await openSqliteStore({ path, queueLimit: 10, resultTtlMs: 1000, sessionTtlMs: 1000 });
    const { task } = await first.enqueue({ tenant: 'acme', input: 'kept', maxAttempts: 1, timeoutMs: 1000 });
    await first.close();
    const again = await openSqliteStore({ path, queueLimit: 10, resultTtlMs: 1000, sessionTtlMs: 1000 });
    expect((await again.get('acme', task.id))?.input).toBe('kept');
    await again.close();
  });

  it('claims from the index of queued tasks in claim order, with statistics that favour another', async () => {
    const path = join(tempDir(), 'drover.db');
    const store = await openSqliteStore({ path, queueLimit: 10_000, resultTtlMs: 60_000, sessionTtlMs: 60_000 });
    for (let i = 0; i < 300; i++) {
      await store.enqueue({ tenant: `t${i % 7}`, input: i, priority: i % 3, maxAttempts: 1, timeoutMs: 60_000, ...(i % 4 === 0 && { sessionId: `s${i % 5}` }) });
    }
    const claimed = await store.claim({ worker: 'w', n: 200, leaseMs: 60_000 });
    for (const t of claimed.slice(0, 100)) await store.complete(t.id, t.fence, null);
    await store.close();
    const db = new DatabaseSync(path);
    db.exec('ANALYZE');
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${CLAIMABLE}`).all({ now: Date.now(), n: 16 }).map((r) => String(r.detail));
    db.close();
    expect(plan[0]).toBe('SCAN t USING INDEX tasks_in_claim_order');
    expect(plan.join('\n')).not.toContain('TEMP B-TREE');
  });

  it('gives tasks stored before attempt history (schema 2) their last attempt', async () => {
    const path = join(tempDir(), 'drover.db');
    const opts = { path, queueLimit: 10, resultTtlMs: 60_000, sessionTtlMs: 60_000 };
    let now = 1_000_000;
    const store = await openSqliteStore({ ...opts, clock: () => now });
    const boom = { code: 'BOOM', message: 'no' };
    const retried = (await store.enqueue({ tenant: 'acme', input: 1, maxAttempts: 3, timeoutMs: 1000 })).task;
    const [first] = await store.claim({ worker: 'w', n: 1, leaseMs: 1000 });
    now += 10;
    await store.fail(retried.id, first!.fence, boom, { retryable: true, retryDelayMs: 0 });
    now += 10;
    const [second] = await store.claim({ worker: 'w', n: 1, leaseMs: 1000 });
    now += 10;
    await store.complete(retried.id, second!.fence, 'ok');
    const queued = (await store.enqueue({ tenant: 'acme', input: 2, maxAttempts: 3, timeoutMs: 1000 })).task;
    await store.close();
    // What a schema-2 file holds: no attempts table, the task's own error kept after a success,
    // task_counts kept by triggers.
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(path);
    db.exec(`
      CREATE TRIGGER tasks_counted_on_insert AFTER INSERT ON tasks BEGIN
        INSERT INTO task_counts (status, priority, n) VALUES (new.status, new.priority, 1) ON CONFLICT (status, priority) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER tasks_counted_on_update AFTER UPDATE OF status ON tasks WHEN old.status <> new.status BEGIN
        UPDATE task_counts SET n = n - 1 WHERE status = old.status AND priority = old.priority;
        INSERT INTO task_counts (status, priority, n) VALUES (new.status, new.priority, 1) ON CONFLICT (status, priority) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER tasks_counted_on_delete AFTER DELETE ON tasks BEGIN
        UPDATE task_counts SET n = n - 1 WHERE status = old.status AND priority = old.priority;
      END;`);
    db.exec(`DROP TABLE attempts; DROP TABLE tenant_counts; DROP INDEX events_cancelling; DROP INDEX tasks_in_claim_order; CREATE INDEX tasks_by_status ON tasks (status, priority DESC, seq); UPDATE tasks SET error = '${JSON.stringify(boom)}' WHERE id = '${retried.id}'; PRAGMA user_version = 2`);
    db.close();

    const migrated = await openSqliteStore(opts);
    expect((await migrated.get('acme', retried.id))?.attempts).toEqual([{ n: 2, error: null, startedAt: 1_000_020, finishedAt: 1_000_030 }]);
    expect((await migrated.get('acme', queued.id))?.attempts).toEqual([]);
    // Counted per tenant from the tasks already there (schema 4).
    expect(await migrated.backlogByTenant(10)).toEqual([{ tenant: 'acme', queued: 1, running: 0 }]);
    // Counted once from then on: the writes count, and the triggers that counted before are gone (schema 7).
    await migrated.enqueue({ tenant: 'acme', input: 3, maxAttempts: 1, timeoutMs: 1000 });
    expect(await migrated.backlogByTenant(10)).toEqual([{ tenant: 'acme', queued: 2, running: 0 }]);
    expect((await migrated.stats()).queued).toBe(2);
    await migrated.close();
  });

  it('reports a file damaged under it as its fault', async () => {
    const path = join(tempDir(), 'drover.db');
    const opts = { path, queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000 };
    const store = await openSqliteStore(opts);
    for (let i = 0; i < 100; i++) await store.enqueue({ tenant: 'acme', input: 'x'.repeat(500), maxAttempts: 1, timeoutMs: 1000 });
    expect(store.fault()).toBeNull();
    const { DatabaseSync } = await import('node:sqlite');
    const { statSync, openSync, writeSync, closeSync } = await import('node:fs');
    const other = new DatabaseSync(path);
    other.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    other.close();
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(size - 4096, 0x55), 0, size - 4096, 4096);
    closeSync(fd);
    await expect(store.list('acme', { limit: 10 })).rejects.toSatisfy((e) => isStoreError(e, 'STORE_FAILED') && e.message === `store ${path}: database disk image is malformed`);
    expect(store.fault()).toBe(`store ${path}: database disk image is malformed`);
    await store.close();
  });

  for (const [name, open] of [['in the process', openSqliteStore], ['in a store thread', openThreadedSqliteStore]] as const) {
    it(`writing ${name}: a lock held past the busy timeout refuses the write with STORE_BUSY, stores nothing, and the next write goes through`, async () => {
      const path = join(tempDir(), 'drover.db');
      const store = await open({ path, queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000, busyTimeoutMs: 150 });
      const lock = new DatabaseSync(path);
      try {
        lock.exec('BEGIN IMMEDIATE');
        const started = Date.now();
        await expect(store.enqueue({ tenant: 'acme', input: 'while locked', maxAttempts: 1, timeoutMs: 1000 })).rejects.toSatisfy((e) => isStoreError(e, 'STORE_BUSY'));
        // It waited for the lock before giving up.
        expect(Date.now() - started).toBeGreaterThanOrEqual(140);
        lock.exec('COMMIT');
        expect(store.fault()).toBeNull();
        await store.enqueue({ tenant: 'acme', input: 'after', maxAttempts: 1, timeoutMs: 1000 });
        expect((await store.list('acme', { limit: 10 })).map((t) => t.input)).toEqual(['after']);
      } finally {
        if (lock.isTransaction) lock.exec('ROLLBACK');
        lock.close();
        await store.close();
      }
    });

    it(`writing ${name}: a write that found the lock held by another thread goes through once it is released`, async () => {
      const path = join(tempDir(), 'drover.db');
      const store = await open({ path, queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000, busyTimeoutMs: 5_000 });
      // Another thread, so that the in-process store's wait (which blocks its thread) cannot
      // keep the holder from letting go.
      const holder = new Worker(
        `const { DatabaseSync } = require('node:sqlite');
         const { parentPort, workerData } = require('node:worker_threads');
         const db = new DatabaseSync(workerData);
         db.exec('BEGIN IMMEDIATE');
         parentPort.postMessage('held');
         setTimeout(() => { db.exec('COMMIT'); db.close(); }, 150);`,
        { eval: true, workerData: path },
      );
      try {
        await once(holder, 'message');
        const started = Date.now();
        const { created } = await store.enqueue({ tenant: 'acme', input: 'after the lock', maxAttempts: 1, timeoutMs: 1000 });
        expect(created).toBe(true);
        expect(Date.now() - started).toBeGreaterThanOrEqual(100);
        expect((await store.list('acme', { limit: 10 })).map((t) => t.input)).toEqual(['after the lock']);
      } finally {
        await holder.terminate();
        await store.close();
      }
    });
  }

  it('keeps SQLite\'s own busy timeout for the statements other than a write\'s BEGIN', () => {
    const db = openDb(join(tempDir(), 'drover.db'), { busyTimeoutMs: 1234 });
    try {
      db.write(() => db.run('INSERT INTO rate_limits (key, tat) VALUES (:key, 1)', { key: 'k' }));
      expect(db.get('PRAGMA busy_timeout')).toEqual({ timeout: 1234 });
    } finally {
      db.close();
    }
  });

  it('refuses a file written by a newer schema', async () => {
    const path = join(tempDir(), 'drover.db');
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 999');
    db.close();
    await expect(openSqliteStore({ path, queueLimit: 10, resultTtlMs: 1000, sessionTtlMs: 1000 })).rejects.toSatisfy((e) =>
      isStoreError(e, 'SCHEMA_TOO_NEW'),
    );
  });

  it('opens <state_dir>/drover.db from the config when no path is set', async () => {
    const stateDir = join(tempDir(), 'state');
    const store = await openStore({ ...defaultConfig().store, stateDir });
    const { task } = await store.enqueue({ tenant: 'acme', input: 1, maxAttempts: 1, timeoutMs: 1000 });
    await store.close();
    const reopened = await openSqliteStore({ path: join(stateDir, 'drover.db'), queueLimit: 10, resultTtlMs: 1000, sessionTtlMs: 1000 });
    expect(await reopened.get('acme', task.id)).not.toBeNull();
    await reopened.close();
  });
});

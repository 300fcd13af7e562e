// A store that cannot be opened, is damaged, or lost its file but not its write-ahead log:
// drover says which file and why and exits, instead of hanging or serving errors as "ready".
import { copyFileSync, existsSync, openSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';
import { openSqliteStore } from '../../../src/store/sqlite/index.ts';
import { ANONYMOUS_TENANT } from '../../../src/http/api/auth.ts';
import { call, startApi } from './support.ts';

afterAll(stopAll);

const PAGE = 4096;
const opts = { queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 60_000 };

/** A store file with a few tasks in it, closed (so everything is in the main file). */
async function storeWithTasks(dir: string): Promise<string> {
  const path = join(dir, 'drover.db');
  const store = await openSqliteStore({ ...opts, path });
  for (let i = 0; i < 200; i++) await store.enqueue({ tenant: ANONYMOUS_TENANT, input: { i, pad: 'x'.repeat(200) }, maxAttempts: 1, timeoutMs: 1000 });
  await store.close();
  return path;
}

/** Overwrites pages from `first` on (default: the last two, the newest tasks) with garbage. */
function damage(path: string, first = statSync(path).size / PAGE - 1): void {
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(size - (first - 1) * PAGE, 0x55), 0, size - (first - 1) * PAGE, (first - 1) * PAGE);
  closeSync(fd);
}

/** Starts drover on the state dir and expects it to exit at once with one line on stderr. */
async function failedStart(stateDir: string, env: Record<string, string> = {}) {
  const d = await startDrover({ waitStarted: false, env: { DROVER_SUPERVISOR__STATE_DIR: stateDir, ...env } });
  const { code } = await d.exitWithin(15_000);
  return { code, stderr: d.stderr.trim(), forked: d.logs.some((l) => l.msg === 'child ready' || l.msg === 'listening') };
}

describe('a store that cannot be opened', () => {
  it('a file that is not a database: exit 1 at once, naming the file and the cause, nothing forked', async () => {
    const dir = tempDir('drover-state-');
    writeFileSync(join(dir, 'drover.db'), Buffer.alloc(3 * PAGE, 0x42));
    const r = await failedStart(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`drover: cannot open the store ${join(dir, 'drover.db')}: file is not a database`);
    expect(r.forked).toBe(false);
  });

  it('a path whose directory cannot hold it: exit 1 naming the file and why', async () => {
    const dir = tempDir('drover-state-');
    writeFileSync(join(dir, 'plain-file'), 'x');
    const path = join(dir, 'plain-file', 'drover.db');
    const r = await failedStart(dir, { DROVER_STORE__PATH: path });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`drover: cannot open the store ${path}: unable to open database file (${join(dir, 'plain-file')} is not a directory)`);
  });

  it('damaged pages: quick_check at open refuses the file, exit 1', async () => {
    const dir = tempDir('drover-state-');
    const path = await storeWithTasks(dir);
    damage(path);
    const r = await failedStart(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^drover: the store ${path} is damaged \\(SQLite quick_check: .+\\); restore it from a backup`));
    expect(r.forked).toBe(false);
  });
});

describe('a database deleted with its -wal left behind', () => {
  /** The file deleted while its log holds commits (as `rm drover.db` under a running drover leaves it). */
  async function orphanedWal(): Promise<{ dir: string; path: string }> {
    const dir = tempDir('drover-state-');
    const path = join(dir, 'drover.db');
    const store = await openSqliteStore({ ...opts, path });
    await store.enqueue({ tenant: ANONYMOUS_TENANT, input: 1, maxAttempts: 1, timeoutMs: 1000 });
    const saved = join(dir, 'saved-wal');
    copyFileSync(`${path}-wal`, saved);
    await store.close();
    rmSync(path);
    copyFileSync(saved, `${path}-wal`);
    rmSync(saved);
    return { dir, path };
  }

  it('refuses to start empty, naming both files and the way out', async () => {
    const { dir, path } = await orphanedWal();
    const r = await failedStart(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^drover: the store ${path} is missing but its write-ahead log ${path}-wal \\(\\d+ bytes\\) is there`));
    expect(r.stderr).toContain('store.discard_orphaned_wal = true');
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it('with store.discard_orphaned_wal = true: warns, deletes the log and starts empty', async () => {
    const { dir, path } = await orphanedWal();
    const d = await startDrover({ env: { DROVER_SUPERVISOR__STATE_DIR: dir, DROVER_STORE__DISCARD_ORPHANED_WAL: 'true' } });
    expect(d.logs.find((l) => l.level === 40 && l.msg.includes('orphaned write-ahead log'))).toBeDefined();
    const list = await request(d.url('/v1/tasks'));
    expect(list.json()).toEqual({ tasks: [], next_cursor: null });
    await d.stop();
    expect(existsSync(path)).toBe(true);
  });
});

describe('a store damaged while serving', () => {
  it('API calls answer 503 STORE_UNAVAILABLE and /readyz stops saying ready', async () => {
    const api = await startApi();
    try {
      const ok = await call(api.d, 'POST', '/v1/tasks', { body: { input: { pad: 'x'.repeat(3000) } } });
      expect(ok.status).toBe(202);
      expect((await request(api.d.url('/readyz'))).status).toBe(200);

      // Everything into the main file, then garbage over every page but the first.
      const path = join(api.stateDir, 'drover.db');
      const db = new DatabaseSync(path, { timeout: 5000 });
      db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      db.close();
      damage(path, 2);

      const r = await call(api.d, 'GET', '/v1/tasks');
      expect(r.status).toBe(503);
      expect(r.json()).toEqual({ error: { code: 'STORE_UNAVAILABLE', message: 'the task store is failing on this node (its log says why)' } });
      const ready = await request(api.d.url('/readyz'));
      expect(ready.status).toBe(503);
      expect(ready.json<{ error: { code: string } }>().error.code).toBe('STORE_UNAVAILABLE');
      // The path and SQLite's words are in the child's log for the operator.
      expect(api.d.logs.some((l) => l.role === 'child' && JSON.stringify(l).includes(`store ${path}: database disk image is malformed`))).toBe(true);
      // Liveness is not readiness: the process itself is fine.
      expect((await request(api.d.url('/healthz'))).status).toBe(200);
    } finally {
      await api.close();
    }
  });
});

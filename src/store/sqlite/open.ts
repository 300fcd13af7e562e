// Opening the file, with the checks that keep a damaged or half-deleted store from being
// served as if it were fine: a database file that is gone while its write-ahead log is left
// (SQLite would start an empty database and drop the log's commits without a word), and
// SQLite's quick_check of the pages (seconds per GB; run by the supervisor before it forks,
// not by every child).
import { existsSync, rmSync, statSync } from 'node:fs';
import { StoreError } from '../errors.ts';
import { damagedStore, Db } from './db.ts';
import { migrate } from './schema.ts';

export interface OpenOptions {
  busyTimeoutMs: number;
  /** Run PRAGMA quick_check and refuse a damaged file. */
  checkIntegrity?: boolean;
  /** With the database file gone and its -wal left: delete the log and start empty. */
  discardOrphanedWal?: boolean;
  warn?: (message: string) => void;
}

export function openDb(path: string, opts: OpenOptions): Db {
  checkOrphanedWal(path, opts);
  const db = new Db(path, opts.busyTimeoutMs);
  try {
    if (opts.checkIntegrity) checkIntegrity(db);
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function checkOrphanedWal(path: string, opts: OpenOptions): void {
  const wal = `${path}-wal`;
  if (existsSync(path) || !existsSync(wal) || statSync(wal).size === 0) return;
  if (!opts.discardOrphanedWal) {
    throw new StoreError(
      'STORE_WAL_ORPHANED',
      `the store ${path} is missing but its write-ahead log ${wal} (${statSync(wal).size} bytes) is there: the database was deleted or moved and its latest commits are only in the log. Restore the file next to it, or set store.discard_orphaned_wal = true to delete the log and start with an empty store`,
    );
  }
  opts.warn?.(`the store ${path} is missing; deleting its orphaned write-ahead log ${wal} and starting with an empty store (store.discard_orphaned_wal)`);
  rmSync(wal);
  rmSync(`${path}-shm`, { force: true });
}

function checkIntegrity(db: Db): void {
  let problems: string[];
  try {
    problems = db.quickCheck();
  } catch (err) {
    // Damage in the pages the check itself reads makes SQLite give up with an error.
    problems = [((err as Error).cause as Error | undefined)?.message ?? (err as Error).message];
  }
  if (problems.length > 0) throw damagedStore(db.path, problems);
}

// A thin layer over node:sqlite: cached prepared statements, write transactions that take
// the write lock up front (BEGIN IMMEDIATE, so two processes never read the same queued row
// and both claim it), callbacks that run only once a transaction committed, the status counts
// a transaction changed (counts.ts) written just before it commits, and SQLite's errors
// turned into StoreErrors. A damaged file or a failing disk is remembered as the
// store's fault, which readiness reports, so a load balancer stops sending work here.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';
import { CountChanges } from './counts.ts';

export type Params = Record<string, SQLInputValue>;

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
/** How often a write waiting for the lock tries again (begin()). */
const LOCK_RETRY_MS = 0.5;
/** What Atomics.wait sleeps on: nothing ever wakes it, so each wait lasts its timeout. */
const NAP = new Int32Array(new SharedArrayBuffer(4));
// The file is damaged: it stays damaged until an operator restores it.
const DAMAGED = new Set([11 /* CORRUPT */, 26 /* NOTADB */]);
// CORRUPT alone: NOTADB at open means the file is something else, which the open error says.
const DAMAGED_AT_OPEN = new Set([11]);
// The disk or its permissions failed: a later commit that succeeds clears the fault.
const FAILING = new Set([8 /* READONLY */, 10 /* IOERR */, 13 /* FULL */, 14 /* CANTOPEN */]);

export class Db {
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private readonly busyTimeoutMs: number;
  private afterCommitQueue: (() => void)[] | null = null;
  private changes: CountChanges | null = null;
  private savepoints = 0;
  private flat = false;
  private closed = false;
  private failure: { message: string; lasting: boolean } | null = null;
  readonly path: string;

  /** Throws StoreError STORE_OPEN_FAILED, naming the file and SQLite's reason. */
  constructor(path: string, busyTimeoutMs: number) {
    this.path = path;
    this.busyTimeoutMs = busyTimeoutMs;
    try {
      this.db = new DatabaseSync(path, { timeout: busyTimeoutMs });
      // WAL lets readers (stats, polling subscribers) run beside the one writer; NORMAL sync
      // in WAL mode survives a process crash and only risks the last commits on power loss.
      // Statement journals (an UPDATE that fires a trigger keeps one) stay in memory instead of
      // a temporary file written with a syscall per page.
      this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;');
    } catch (err) {
      if (DAMAGED_AT_OPEN.has(((err as { errcode?: number }).errcode ?? 0) & 0xff)) throw damagedStore(path, [(err as Error).message]);
      const why = directoryProblem(path);
      throw new StoreError('STORE_OPEN_FAILED', `cannot open the store ${path}: ${(err as Error).message}${why ? ` (${why})` : ''}`, { cause: err });
    }
  }

  /** Why the store cannot serve right now (a damaged file, a failing disk), or null. */
  get fault(): string | null {
    return this.failure?.message ?? null;
  }

  /** SQLite's quick_check: [] when the file is sound, else what is wrong (first 10 problems). */
  quickCheck(): string[] {
    const rows = this.all<{ quick_check: string }>('PRAGMA quick_check(10)');
    return rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
  }

  exec(sql: string): void {
    this.open();
    this.wrap(() => this.db.exec(sql));
  }

  get<T>(sql: string, params: Params = {}): T | undefined {
    return this.wrap(() => this.statement(sql).get(params)) as T | undefined;
  }

  all<T>(sql: string, params: Params = {}): T[] {
    return this.wrap(() => this.statement(sql).all(params)) as T[];
  }

  /** Returns the number of rows changed. */
  run(sql: string, params: Params = {}): number {
    return Number(this.wrap(() => this.statement(sql).run(params)).changes);
  }

  /** Runs fn inside BEGIN IMMEDIATE … COMMIT (ROLLBACK if it throws). Inside another write it
   * runs in a SAVEPOINT instead: a throw undoes only fn's changes (and drops its afterCommit
   * callbacks), which is how a batch of operations shares one commit (thread.ts). */
  write<T>(fn: () => T): T {
    this.open();
    if (this.afterCommitQueue) return this.flat ? fn() : this.savepoint(fn);
    this.wrap(() => this.begin());
    const queue: (() => void)[] = [];
    this.afterCommitQueue = queue;
    const changes = (this.changes = new CountChanges());
    let value: T;
    try {
      value = fn();
      changes.write(this);
      this.wrap(() => this.db.exec('COMMIT'));
      if (this.failure && !this.failure.lasting) this.failure = null;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      this.afterCommitQueue = null;
      this.changes = null;
    }
    for (const cb of queue) cb();
    return value;
  }

  /**
   * BEGIN IMMEDIATE, waiting up to the busy timeout for the write lock. SQLite's own wait sleeps
   * 1, 2, 5, 10, 15, 20, 25… ms between tries, so a waiter among several writers slept through
   * much of the time the lock was free (bench/RESULTS.md). Tried here every LOCK_RETRY_MS
   * instead; the thread blocks meanwhile, as it did inside SQLite's wait. Every other statement
   * keeps SQLite's wait.
   */
  private begin(): void {
    const deadline = performance.now() + this.busyTimeoutMs;
    this.statement('PRAGMA busy_timeout = 0').run();
    try {
      for (;;) {
        try {
          this.db.exec('BEGIN IMMEDIATE');
          return;
        } catch (err) {
          if ((((err as { errcode?: number }).errcode ?? 0) & 0xff) !== SQLITE_BUSY || performance.now() >= deadline) throw err;
        }
        Atomics.wait(NAP, 0, 0, LOCK_RETRY_MS);
      }
    } finally {
      this.statement(`PRAGMA busy_timeout = ${this.busyTimeoutMs}`).run();
    }
  }

  /** As write(), but writes nested in fn join its transaction without savepoints of their own:
   * a throw anywhere undoes all of fn. A savepoint makes SQLite copy every page it first
   * changes into a statement journal, which cost the store thread a quarter of its time. */
  writeFlat<T>(fn: () => T): T {
    if (this.afterCommitQueue) throw new Error('writeFlat inside a store write transaction');
    this.flat = true;
    try {
      return this.write(fn);
    } finally {
      this.flat = false;
    }
  }

  private savepoint<T>(fn: () => T): T {
    const outer = this.afterCommitQueue!;
    const name = `op${++this.savepoints}`;
    this.wrap(() => this.db.exec(`SAVEPOINT ${name}`));
    const queue: (() => void)[] = [];
    this.afterCommitQueue = queue;
    const outerChanges = this.changes!;
    const changes = (this.changes = new CountChanges(outerChanges));
    try {
      const value = fn();
      this.wrap(() => this.db.exec(`RELEASE ${name}`));
      outer.push(...queue);
      outerChanges.merge(changes);
      return value;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw err;
    } finally {
      this.afterCommitQueue = outer;
      this.changes = outerChanges;
      this.savepoints--;
    }
  }

  /** The status counts the current write changes (counts.ts): written just before its COMMIT,
   * dropped with a savepoint that rolls back. */
  get counts(): CountChanges {
    if (!this.changes) throw new Error('counts outside a store write transaction');
    return this.changes;
  }

  /** Runs cb after the current write transaction commits (never if it rolls back). */
  afterCommit(cb: () => void): void {
    if (!this.afterCommitQueue) throw new Error('afterCommit outside a store write transaction');
    this.afterCommitQueue.push(cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }

  /** Inside a transaction (SQLite may end one by itself on some errors, e.g. a full disk). */
  get inTransaction(): boolean {
    return !this.closed && this.db.isTransaction;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private statement(sql: string): StatementSync {
    this.open();
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.wrap(() => this.db.prepare(sql));
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private open(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
  }

  private wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const errcode = (err as { errcode?: unknown }).errcode;
      if (typeof errcode !== 'number') throw err;
      const primary = errcode & 0xff;
      if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED) {
        throw new StoreError('STORE_BUSY', 'the store stayed locked by other processes past its busy timeout', { cause: err });
      }
      if (DAMAGED.has(primary) || FAILING.has(primary)) {
        const message = `store ${this.path}: ${(err as Error).message}`;
        if (!this.failure?.lasting) this.failure = { message, lasting: DAMAGED.has(primary) };
        throw new StoreError('STORE_FAILED', message, { cause: err });
      }
      throw err;
    }
  }
}

/** SQLite says only "unable to open database file"; the directory usually says why. */
function directoryProblem(path: string): string | null {
  const dir = dirname(path);
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
    accessSync(dir, constants.W_OK | constants.X_OK);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export function damagedStore(path: string, problems: string[]): StoreError {
  return new StoreError('STORE_DAMAGED', `the store ${path} is damaged (SQLite quick_check: ${problems.join('; ')}); restore it from a backup, or move it away to start empty`);
}

// A thin layer over node:sqlite: cached prepared statements, write transactions that take
// the write lock up front (BEGIN IMMEDIATE, so two processes never read the same queued row
// and both claim it), callbacks that run only once a transaction committed, and SQLite's
// errors turned into StoreErrors.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';

export type Params = Record<string, SQLInputValue>;

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

export class Db {
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private afterCommitQueue: (() => void)[] | null = null;
  private closed = false;

  constructor(path: string, busyTimeoutMs: number) {
    this.db = wrap(() => new DatabaseSync(path, { timeout: busyTimeoutMs }));
    // WAL lets readers (stats, polling subscribers) run beside the one writer; NORMAL sync
    // in WAL mode survives a process crash and only risks the last commits on power loss.
    this.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  }

  exec(sql: string): void {
    this.open();
    wrap(() => this.db.exec(sql));
  }

  get<T>(sql: string, params: Params = {}): T | undefined {
    return wrap(() => this.statement(sql).get(params)) as T | undefined;
  }

  all<T>(sql: string, params: Params = {}): T[] {
    return wrap(() => this.statement(sql).all(params)) as T[];
  }

  /** Returns the number of rows changed. */
  run(sql: string, params: Params = {}): number {
    return Number(wrap(() => this.statement(sql).run(params)).changes);
  }

  /** Runs fn inside BEGIN IMMEDIATE … COMMIT (ROLLBACK if it throws). Not reentrant. */
  write<T>(fn: () => T): T {
    this.open();
    if (this.afterCommitQueue) throw new Error('nested store write transaction');
    wrap(() => this.db.exec('BEGIN IMMEDIATE'));
    const queue: (() => void)[] = [];
    this.afterCommitQueue = queue;
    let value: T;
    try {
      value = fn();
      wrap(() => this.db.exec('COMMIT'));
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      this.afterCommitQueue = null;
    }
    for (const cb of queue) cb();
    return value;
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

  get isClosed(): boolean {
    return this.closed;
  }

  private statement(sql: string): StatementSync {
    this.open();
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = wrap(() => this.db.prepare(sql));
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private open(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
  }
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const errcode = (err as { errcode?: unknown }).errcode;
    if (typeof errcode === 'number' && ((errcode & 0xff) === SQLITE_BUSY || (errcode & 0xff) === SQLITE_LOCKED)) {
      throw new StoreError('STORE_BUSY', 'the store stayed locked by other processes past its busy timeout', { cause: err });
    }
    throw err;
  }
}

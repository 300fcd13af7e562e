// Another process holds the SQLite store's write lock (a long write, a backup, an open
// `sqlite3` shell) while a child gets a submission and then a ping. A child whose writes run
// on its store thread answers the ping while the submission waits for the lock; one that
// writes on its event loop answers nothing until the lock is let go.
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from './http.ts';

export interface LockedAnswers {
  /** The ping's status while the lock was held, or the error it got (a timeout). */
  ping: number | string;
  /** The submission had not been answered when the ping was. */
  submissionWaiting: boolean;
  /** The submission's status once the lock was let go. */
  submission: number;
}

/** `url` builds the address of a route on a drover with one child, whose store is `dbPath`. */
export async function submitAndPingWhileLocked(url: (path: string) => string, dbPath: string, pingTimeoutMs = 3_000): Promise<LockedAnswers> {
  const lock = new DatabaseSync(dbPath, { timeout: 10_000 });
  let held = true;
  try {
    lock.exec('BEGIN IMMEDIATE');
    let answered = false;
    const submission = request(url('/v1/tasks'), {
      method: 'POST', body: JSON.stringify({ input: 'while locked' }), headers: { 'content-type': 'application/json' }, timeoutMs: 20_000,
    }).finally(() => (answered = true));
    // Time for the submission to reach the child and wait on the lock.
    await sleep(300);
    const ping = await request(url('/v1/ping'), { timeoutMs: pingTimeoutMs }).then((r) => r.status, (err: Error) => err.message);
    const submissionWaiting = !answered;
    lock.exec('COMMIT');
    held = false;
    return { ping, submissionWaiting, submission: (await submission).status };
  } finally {
    if (held && lock.isTransaction) lock.exec('ROLLBACK');
    lock.close();
  }
}

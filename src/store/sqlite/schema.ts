// The schema, as an ordered list of migrations. PRAGMA user_version records how many ran;
// opening runs the missing ones inside one write transaction, so when several children open
// the same file at once exactly one of them migrates and the others see the result.
import { StoreError } from '../errors.ts';
import { CANCELLING_EVENT } from './cancels.ts';
import type { Db } from './db.ts';

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tasks (
    seq INTEGER PRIMARY KEY,            -- FIFO order within a priority
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    session_id TEXT,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    input TEXT NOT NULL,
    result TEXT,
    error TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    timeout_ms INTEGER NOT NULL,
    idempotency_key TEXT,
    worker TEXT,
    fence INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER,
    event_seq INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER
  );
  -- claim order (replaced by tasks_in_claim_order in 6)
  CREATE INDEX tasks_by_status ON tasks (status, priority DESC, seq);
  CREATE INDEX tasks_by_lease ON tasks (lease_until) WHERE status IN ('running', 'cancelling');
  CREATE INDEX tasks_by_tenant ON tasks (tenant, id);
  CREATE INDEX tasks_by_session ON tasks (tenant, session_id, seq) WHERE session_id IS NOT NULL;
  CREATE INDEX tasks_by_finish ON tasks (finished_at) WHERE finished_at IS NOT NULL;
  CREATE UNIQUE INDEX tasks_by_idempotency_key ON tasks (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
  CREATE INDEX tasks_by_run_at ON tasks (run_at) WHERE status = 'queued';

  -- Counts by status and priority, kept by triggers so that every path that changes a
  -- status keeps them right: the queue cap and stats read them instead of counting rows.
  -- (The writes keep them since 7.)
  CREATE TABLE task_counts (
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (status, priority)
  ) WITHOUT ROWID;
  CREATE TRIGGER tasks_counted_on_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_counts (status, priority, n) VALUES (new.status, new.priority, 1)
      ON CONFLICT (status, priority) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER tasks_counted_on_update AFTER UPDATE OF status ON tasks WHEN old.status <> new.status BEGIN
    UPDATE task_counts SET n = n - 1 WHERE status = old.status AND priority = old.priority;
    INSERT INTO task_counts (status, priority, n) VALUES (new.status, new.priority, 1)
      ON CONFLICT (status, priority) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER tasks_counted_on_delete AFTER DELETE ON tasks BEGIN
    UPDATE task_counts SET n = n - 1 WHERE status = old.status AND priority = old.priority;
  END;

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,             -- commit order across tasks: what pollers follow
    task_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    final INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (task_id, seq)
  );

  CREATE TABLE sessions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    next_index INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
  ) WITHOUT ROWID;
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);
  CREATE TABLE session_messages (
    tenant TEXT NOT NULL,
    session_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id, idx)
  ) WITHOUT ROWID;

  CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat REAL NOT NULL                   -- GCRA theoretical arrival time
  ) WITHOUT ROWID;

  CREATE TABLE tool_results (
    task_id TEXT NOT NULL,
    key TEXT NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,                -- pending | done
    result TEXT,
    lease_until INTEGER NOT NULL,
    PRIMARY KEY (task_id, key)
  ) WITHOUT ROWID;
  `,
  // 2: what an idempotency key was first sent with (a replay of another request is refused).
  `
  ALTER TABLE tasks ADD COLUMN request_hash TEXT;
  `,
  // 3: every attempt of a task, so a task that succeeded on a later attempt still shows why the
  // earlier ones failed. Tasks from before keep their last attempt (as the task row had it).
  `
  CREATE TABLE attempts (
    task_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    error TEXT,
    PRIMARY KEY (task_id, n)
  ) WITHOUT ROWID;
  INSERT INTO attempts (task_id, n, started_at, finished_at, error)
    SELECT id, attempt, started_at,
      CASE status WHEN 'queued' THEN updated_at WHEN 'running' THEN NULL WHEN 'cancelling' THEN NULL ELSE finished_at END,
      CASE status WHEN 'succeeded' THEN NULL ELSE error END
    FROM tasks WHERE attempt > 0 AND started_at IS NOT NULL;
  `,
  // 4: counts by tenant and status, kept by triggers like task_counts, for the backlog per
  // tenant on the status page: the supervisor reads it every second, and counting the queue's
  // rows instead would hold its event loop ~15 ms at 100,000 queued tasks.
  `
  CREATE TABLE tenant_counts (
    tenant TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (tenant, status)
  ) WITHOUT ROWID;
  INSERT INTO tenant_counts (tenant, status, n) SELECT tenant, status, COUNT(*) FROM tasks GROUP BY tenant, status;
  CREATE TRIGGER tasks_tenant_counted_on_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO tenant_counts (tenant, status, n) VALUES (new.tenant, new.status, 1)
      ON CONFLICT (tenant, status) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER tasks_tenant_counted_on_update AFTER UPDATE OF status ON tasks WHEN old.status <> new.status BEGIN
    UPDATE tenant_counts SET n = n - 1 WHERE tenant = old.tenant AND status = old.status;
    INSERT INTO tenant_counts (tenant, status, n) VALUES (new.tenant, new.status, 1)
      ON CONFLICT (tenant, status) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER tasks_tenant_counted_on_delete AFTER DELETE ON tasks BEGIN
    UPDATE tenant_counts SET n = n - 1 WHERE tenant = old.tenant AND status = old.status;
  END;
  `,
  // 5: the cancel requests among the events, which every child's cancel watch polls (cancels.ts).
  // Its condition is the poll's: a change to CANCELLING_EVENT needs a migration that recreates it.
  `CREATE INDEX events_cancelling ON events (id) WHERE ${CANCELLING_EVENT};`,
  // 6: the claim's order over queued tasks only. An index over every status changed two entries
  // at each claim and each completion, inside the write lock, for tasks no claim reads again;
  // counts by status come from task_counts.
  `
  DROP INDEX tasks_by_status;
  CREATE INDEX tasks_in_claim_order ON tasks (priority DESC, seq) WHERE status = 'queued';
  `,
  // 7: the writes keep task_counts and tenant_counts themselves, one UPSERT per counter a commit
  // (counts.ts), instead of these triggers' four statements for every task whose status changed.
  `
  DROP TRIGGER IF EXISTS tasks_counted_on_insert;
  DROP TRIGGER IF EXISTS tasks_counted_on_update;
  DROP TRIGGER IF EXISTS tasks_counted_on_delete;
  DROP TRIGGER IF EXISTS tasks_tenant_counted_on_insert;
  DROP TRIGGER IF EXISTS tasks_tenant_counted_on_update;
  DROP TRIGGER IF EXISTS tasks_tenant_counted_on_delete;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Db): void {
  db.write(() => {
    const version = db.get<{ user_version: number }>('PRAGMA user_version')?.user_version ?? 0;
    if (version > SCHEMA_VERSION) {
      throw new StoreError('SCHEMA_TOO_NEW', `store schema version ${version} is newer than this drover's (${SCHEMA_VERSION})`);
    }
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] ?? '');
    if (version !== SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
}

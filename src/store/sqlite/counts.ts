// The counts by status that stats(), the queue cap and the backlog per tenant read
// (task_counts, tenant_counts). Every write that changes a task's status says so here, and the
// sums go in with one UPSERT per counter just before the transaction commits. Triggers did
// this a row at a time: four statements for every task a claim or a completion moved, ~8 µs
// of the ~37 µs a task spent inside the write lock (bench/RESULTS.md).
import type { SQLInputValue } from 'node:sqlite';

/** What write() needs of the transaction's connection (db.ts, which holds these changes). */
interface Writer {
  run(sql: string, params: Record<string, SQLInputValue>): unknown;
}

export class CountChanges {
  /** A savepoint's changes have its transaction's as parent. */
  private readonly parent: CountChanges | null;
  /** status → priority → change */
  private readonly byStatus = new Map<string, Map<number, number>>();
  /** tenant → status → change */
  private readonly byTenant = new Map<string, Map<string, number>>();

  constructor(parent: CountChanges | null = null) {
    this.parent = parent;
  }

  /** How much the count of `status` (all priorities) changed so far in this transaction: what
   * task_counts does not show yet (the queue cap adds it). */
  changeOf(status: string): number {
    let n = this.parent?.changeOf(status) ?? 0;
    for (const d of this.byStatus.get(status)?.values() ?? []) n += d;
    return n;
  }

  /** A task of `tenant` at `priority` went from status `from` to `to` (null: inserted, deleted). */
  move(tenant: string, priority: number, from: string | null, to: string | null): void {
    if (from === to) return;
    if (from !== null) this.add(tenant, priority, from, -1);
    if (to !== null) this.add(tenant, priority, to, 1);
  }

  /** Takes in the changes of a savepoint that was released inside this transaction. */
  merge(other: CountChanges): void {
    for (const [status, byPriority] of other.byStatus) for (const [priority, n] of byPriority) bump(this.byStatus, status, priority, n);
    for (const [tenant, byStatus] of other.byTenant) for (const [status, n] of byStatus) bump(this.byTenant, tenant, status, n);
  }

  /** Inside the transaction, before COMMIT. */
  write(db: Writer): void {
    for (const [status, byPriority] of this.byStatus) {
      for (const [priority, n] of byPriority) {
        if (n === 0) continue;
        db.run('INSERT INTO task_counts (status, priority, n) VALUES (:status, :priority, :n) ON CONFLICT (status, priority) DO UPDATE SET n = n + excluded.n', { status, priority, n });
      }
    }
    for (const [tenant, byStatus] of this.byTenant) {
      for (const [status, n] of byStatus) {
        if (n === 0) continue;
        db.run('INSERT INTO tenant_counts (tenant, status, n) VALUES (:tenant, :status, :n) ON CONFLICT (tenant, status) DO UPDATE SET n = n + excluded.n', { tenant, status, n });
      }
    }
  }

  private add(tenant: string, priority: number, status: string, n: number): void {
    bump(this.byStatus, status, priority, n);
    bump(this.byTenant, tenant, status, n);
  }
}

function bump<K1, K2>(map: Map<K1, Map<K2, number>>, a: K1, b: K2, n: number): void {
  let inner = map.get(a);
  if (!inner) map.set(a, (inner = new Map()));
  inner.set(b, (inner.get(b) ?? 0) + n);
}

// The tool-result cache: a two-phase record per (task, key). The first caller claims it
// under a lease and runs the tool; a duplicate (a redelivered task, a concurrent retry) sees
// `pending` while that lease lives and takes the claim over once it expired.
import type { ToolClaim } from '../types.ts';
import { validateLease } from '../validate.ts';
import { fromJson, toJson, type Ctx } from './context.ts';

interface ToolRow {
  owner: string;
  state: string;
  result: string | null;
  lease_until: number;
}

export function toolClaim(ctx: Ctx, taskId: string, key: string, owner: string, leaseMs: number): ToolClaim {
  validateLease(leaseMs);
  const now = ctx.clock();
  return ctx.db.write(() => {
    const row = ctx.db.get<ToolRow>('SELECT owner, state, result, lease_until FROM tool_results WHERE task_id = :taskId AND key = :key', {
      taskId, key,
    });
    if (row?.state === 'done') return { state: 'done', result: fromJson(row.result) };
    if (row && row.owner !== owner && row.lease_until > now) return { state: 'pending', leaseRemainingMs: row.lease_until - now };
    ctx.db.run(
      `INSERT INTO tool_results (task_id, key, owner, state, lease_until) VALUES (:taskId, :key, :owner, 'pending', :leaseUntil)
       ON CONFLICT (task_id, key) DO UPDATE SET owner = :owner, lease_until = :leaseUntil`,
      { taskId, key, owner, leaseUntil: now + leaseMs },
    );
    return { state: 'claimed' };
  });
}

export function toolPut(ctx: Ctx, taskId: string, key: string, owner: string, result: unknown): boolean {
  return ctx.db.write(
    () =>
      ctx.db.run(
        `UPDATE tool_results SET state = 'done', result = :result
         WHERE task_id = :taskId AND key = :key AND owner = :owner AND state = 'pending'`,
        { taskId, key, owner, result: toJson(result) },
      ) > 0,
  );
}

export function toolGet(ctx: Ctx, taskId: string, key: string): { result: unknown } | null {
  const row = ctx.db.get<{ result: string | null }>(
    `SELECT result FROM tool_results WHERE task_id = :taskId AND key = :key AND state = 'done'`,
    { taskId, key },
  );
  return row ? { result: fromJson(row.result) } : null;
}

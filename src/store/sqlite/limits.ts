// Rate limits: the GCRA decision (../gcra.ts) made inside a write transaction, so children
// sharing the file share each bucket exactly.
import { gcra } from '../gcra.ts';
import type { RateLimit, RateLimitResult } from '../types.ts';
import type { Ctx } from './context.ts';

export function rateLimitTake(ctx: Ctx, key: string, limit: RateLimit, now: number): RateLimitResult {
  return ctx.db.write(() => {
    const stored = ctx.db.get<{ tat: number }>('SELECT tat FROM rate_limits WHERE key = :key', { key });
    const decision = gcra(stored?.tat ?? null, limit, now);
    if (decision.result.allowed) {
      ctx.db.run('INSERT INTO rate_limits (key, tat) VALUES (:key, :tat) ON CONFLICT (key) DO UPDATE SET tat = :tat', {
        key, tat: decision.tat,
      });
    }
    return decision.result;
  });
}

/** Inside a write transaction: a bucket whose TAT has passed is full, the same as no row. */
export function removeFullBuckets(ctx: Ctx, now: number): number {
  return ctx.db.run('DELETE FROM rate_limits WHERE tat <= :now', { now });
}

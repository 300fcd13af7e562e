// Rate limits: the GCRA decision (../gcra.ts) made inside a write transaction, so children
// sharing the file share each bucket exactly.
import { gcraBatch } from '../gcra.ts';
import type { RateLimit, RateLimitTaken } from '../types.ts';
import type { Ctx } from './context.ts';

export function rateLimitTake(ctx: Ctx, key: string, limit: RateLimit, now: number, count = 1): RateLimitTaken {
  return ctx.db.write(() => {
    const stored = ctx.db.get<{ tat: number }>('SELECT tat FROM rate_limits WHERE key = :key', { key });
    const batch = gcraBatch(stored?.tat ?? null, limit, now, count);
    if (batch.taken > 0) {
      ctx.db.run('INSERT INTO rate_limits (key, tat) VALUES (:key, :tat) ON CONFLICT (key) DO UPDATE SET tat = :tat', {
        key, tat: batch.tat,
      });
    }
    return { ...batch.result, taken: batch.taken };
  });
}

/** Inside a write transaction: a bucket whose TAT has passed is full, the same as no row. */
export function removeFullBuckets(ctx: Ctx, now: number): number {
  return ctx.db.run('DELETE FROM rate_limits WHERE tat <= :now', { now });
}

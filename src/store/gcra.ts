// GCRA (generic cell rate algorithm): a token bucket kept as one number, the theoretical
// arrival time (TAT) of the next request. The decision is pure so every backend makes the
// same one (SQLite inside a write transaction, Redis inside a script); the output contract
// follows redis-cell's CL.THROTTLE (shared/research/queue_scaling.md §2.3).
import { StoreError } from './errors.ts';
import type { RateLimit, RateLimitResult } from './types.ts';

export interface GcraDecision {
  result: RateLimitResult;
  /** TAT to store when allowed; the old one stays when denied. */
  tat: number;
}

/** `count` requests taken one after another at `now`: how many were allowed, and the last decision. */
export interface GcraBatch {
  /** The first `taken` were allowed; the rest were refused. */
  taken: number;
  /** The decision on the last allowed request, or on the first refused one. */
  result: RateLimitResult;
  tat: number;
}

// Float intervals (1000 / 3 ms) must not turn an exact boundary into a denial.
const EPSILON = 1e-6;

export function gcra(storedTat: number | null, limit: RateLimit, now: number): GcraDecision {
  if (!(limit.ratePerSec > 0) || !Number.isInteger(limit.burst) || limit.burst < 1) {
    throw new StoreError('INVALID_ARGUMENT', `rate limit needs ratePerSec > 0 and an integer burst >= 1`);
  }
  const interval = 1000 / limit.ratePerSec;
  const window = interval * limit.burst;
  const tat = Math.max(storedTat ?? now, now);
  const newTat = tat + interval;
  const allowAt = newTat - window;
  if (allowAt - now > EPSILON) {
    return {
      tat,
      result: { allowed: false, remaining: 0, retryAfterMs: Math.ceil(allowAt - now), resetMs: Math.ceil(tat - now) },
    };
  }
  return {
    tat: newTat,
    result: {
      allowed: true,
      remaining: Math.floor((now - allowAt) / interval + EPSILON),
      retryAfterMs: 0,
      resetMs: Math.ceil(newTat - now),
    },
  };
}

/**
 * The same decisions as `count` calls of gcra() in a row at `now`: a caller that gathered
 * several requests of one bucket takes them in one store call and one write.
 */
export function gcraBatch(storedTat: number | null, limit: RateLimit, now: number, count: number): GcraBatch {
  if (!Number.isInteger(count) || count < 1) throw new StoreError('INVALID_ARGUMENT', 'a rate limit take needs an integer count >= 1');
  let tat = storedTat;
  let taken = 0;
  let last = gcra(tat, limit, now);
  while (last.result.allowed) {
    tat = last.tat;
    if (++taken === count) break;
    last = gcra(tat, limit, now);
  }
  return { taken, result: last.result, tat: tat ?? now };
}

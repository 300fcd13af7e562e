// Per-tenant request rate: one GCRA bucket per tenant in the store, so every child (and, with
// a shared store, every node) draws from the same bucket. Every answer carries the
// RateLimit-* fields (draft-ietf-httpapi-ratelimit-headers), so a client can slow down before
// it is refused; a refusal is 429 with Retry-After.
//
// A take is a store write. The requests of one tenant that reach a child's limiter in one turn
// of its event loop share one: the store takes them one after another in a single call, the
// same decisions as that many calls (a store write per API request cost ~20 µs of a 50 µs
// GET, bench/RESULTS.md).
import type { FastifyReply } from 'fastify';
import type { Config } from '../../config/schema.ts';
import type { RateLimitResult, RateLimitTaken, Store } from '../../store/index.ts';
import { TurnBatches } from '../../store/turn-batch.ts';
import { ApiError } from '../errors.ts';

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

export function rateLimitHeaders(limit: Config['limits'], r: RateLimitResult): Record<string, string> {
  return {
    'ratelimit-limit': String(limit.burst),
    'ratelimit-remaining': String(Math.max(0, Math.floor(r.remaining))),
    'ratelimit-reset': String(seconds(r.resetMs)),
  };
}

/**
 * The decision on the `i`-th of `count` requests taken at once (`batch`, see Store.rateLimitTake):
 * what a take of its own, in that order, would have answered. An interval is 1000 / rate ms.
 */
export function decisionInBatch(batch: RateLimitTaken, count: number, i: number, intervalMs: number): RateLimitResult {
  if (i >= batch.taken) return { allowed: false, remaining: 0, retryAfterMs: batch.retryAfterMs, resetMs: batch.resetMs };
  // After the last allowed request: the batch's remaining, or none when the next one was refused.
  const later = batch.taken - 1 - i;
  const lastRemaining = batch.taken < count ? 0 : batch.remaining;
  return { allowed: true, remaining: lastRemaining + later, retryAfterMs: 0, resetMs: Math.max(0, Math.ceil(batch.resetMs - later * intervalMs)) };
}

interface Waiting {
  resolve(r: RateLimitResult): void;
  reject(err: unknown): void;
}

export class RateLimiter {
  private readonly store: Store;
  private readonly limits: Config['limits'];
  private readonly refused: (tenant: string) => void;
  /** By bucket key, the requests waiting for this turn's take, in arrival order. */
  private readonly gathering = new TurnBatches<string, Waiting>((key, waiting) => void this.takeGathered(key, waiting));

  /** `refused` counts each 429 by tenant (the child's metrics). */
  constructor(store: Store, limits: Config['limits'], refused: (tenant: string) => void = () => {}) {
    this.store = store;
    this.limits = limits;
    this.refused = refused;
  }

  /** Takes one request from the tenant's bucket; sets the headers; throws 429 when empty. */
  async take(tenant: string, reply: FastifyReply): Promise<void> {
    const r = await this.decide(`tenant:${tenant}`);
    const headers = rateLimitHeaders(this.limits, r);
    reply.headers(headers);
    if (r.allowed) return;
    this.refused(tenant);
    // Retry-After is whole seconds; rounding up means a client that waits it out gets in.
    const retryAfter = String(Math.max(1, seconds(r.retryAfterMs)));
    throw new ApiError(429, 'RATE_LIMITED', `too many requests for this tenant: ${this.limits.rate_per_second}/s, burst ${this.limits.burst}`, {
      ...headers,
      'retry-after': retryAfter,
    });
  }

  /** Joins this turn's take of the bucket. */
  private decide(key: string): Promise<RateLimitResult> {
    return new Promise((resolve, reject) => this.gathering.add(key, { resolve, reject }));
  }

  private async takeGathered(key: string, waiting: Waiting[]): Promise<void> {
    const limit = { ratePerSec: this.limits.rate_per_second, burst: this.limits.burst };
    try {
      const batch = await this.store.rateLimitTake(key, limit, undefined, waiting.length);
      waiting.forEach((w, i) => w.resolve(decisionInBatch(batch, waiting.length, i, 1000 / limit.ratePerSec)));
    } catch (err) {
      for (const w of waiting) w.reject(err);
    }
  }
}

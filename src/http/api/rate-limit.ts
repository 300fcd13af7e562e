// Per-tenant request rate: one GCRA bucket per tenant in the store, so every child (and, with
// a shared store, every node) draws from the same bucket. Every answer carries the
// RateLimit-* fields (draft-ietf-httpapi-ratelimit-headers), so a client can slow down before
// it is refused; a refusal is 429 with Retry-After.
import type { FastifyReply } from 'fastify';
import type { Config } from '../../config/schema.ts';
import type { RateLimitResult, Store } from '../../store/index.ts';
import { ApiError } from '../errors.ts';

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

export function rateLimitHeaders(limit: Config['limits'], r: RateLimitResult): Record<string, string> {
  return {
    'ratelimit-limit': String(limit.burst),
    'ratelimit-remaining': String(Math.max(0, Math.floor(r.remaining))),
    'ratelimit-reset': String(seconds(r.resetMs)),
  };
}

export class RateLimiter {
  private readonly store: Store;
  private readonly limits: Config['limits'];
  private readonly refused: (tenant: string) => void;

  /** `refused` counts each 429 by tenant (the child's metrics). */
  constructor(store: Store, limits: Config['limits'], refused: (tenant: string) => void = () => {}) {
    this.store = store;
    this.limits = limits;
    this.refused = refused;
  }

  /** Takes one request from the tenant's bucket; sets the headers; throws 429 when empty. */
  async take(tenant: string, reply: FastifyReply): Promise<void> {
    const r = await this.store.rateLimitTake(`tenant:${tenant}`, { ratePerSec: this.limits.rate_per_second, burst: this.limits.burst });
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
}

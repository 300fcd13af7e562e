// Failed API-key authentications, limited per client address. Each address has a token bucket
// of `limits.failed_auth_per_minute` failures that refills at that rate; once it is empty,
// every keyed request from that address is refused (429) before its key is hashed, so a
// guessing client learns nothing more and costs nothing more until the bucket refills. The
// buckets live in this child's memory: checking one must cost less than the hashing it saves,
// so the limit is per child (a client spread over N children gets N buckets).
import { isIPv6 } from 'node:net';
import { gcra } from '../../store/gcra.ts';
import { ApiError } from '../errors.ts';

/** Addresses tracked at once; beyond it, buckets that are full again are forgotten first. */
const MAX_ADDRESSES = 10_000;

/**
 * The bucket an address draws from: IPv4 as it is (also when mapped into IPv6), IPv6 by its
 * /64, the smallest block one client is given (RFC 6177): counting single IPv6 addresses
 * would give one host 2^64 buckets.
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export class FailedAuthLimiter {
  private readonly perMinute: number;
  private readonly now: () => number;
  /** Address → GCRA theoretical arrival time (see store/gcra.ts), in insertion order. */
  private readonly buckets = new Map<string, number>();

  /** `perMinute` 0 turns the limit off. */
  constructor(perMinute: number, now: () => number = Date.now) {
    this.perMinute = perMinute;
    this.now = now;
  }

  private get limit() {
    return { ratePerSec: this.perMinute / 60, burst: this.perMinute };
  }

  /** Throws 429 AUTH_RATE_LIMITED (with Retry-After) while the address may not try a key. */
  check(ip: string): void {
    if (this.perMinute === 0) return;
    const tat = this.buckets.get(clientKey(ip));
    if (tat === undefined) return;
    const { result } = gcra(tat, this.limit, this.now());
    if (result.allowed) return;
    const retryAfter = String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)));
    throw new ApiError(429, 'AUTH_RATE_LIMITED', `too many failed API-key attempts from this address (limits.failed_auth_per_minute = ${this.perMinute}); retry after ${retryAfter} s`, {
      'retry-after': retryAfter,
    });
  }

  /** Counts one failed attempt against the address. */
  fail(ip: string): void {
    if (this.perMinute === 0) return;
    const key = clientKey(ip);
    const now = this.now();
    const { tat } = gcra(this.buckets.get(key) ?? null, this.limit, now);
    this.buckets.delete(key);
    this.buckets.set(key, tat);
    if (this.buckets.size > MAX_ADDRESSES) this.forget(now);
  }

  /** Drops buckets that have refilled; if none has, the longest untouched one. */
  private forget(now: number): void {
    for (const [key, tat] of this.buckets) if (tat <= now) this.buckets.delete(key);
    if (this.buckets.size > MAX_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
  }
}

// How long to wait before the next attempt: pure functions, so the arithmetic is tested alone.

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** Ceiling of the exponential part. */
  maxMs: number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/**
 * Exponential backoff with "equal jitter" (half fixed, half random) so a burst of callers that
 * failed together does not retry together, yet no retry comes back immediately. A provider's
 * Retry-After is a floor: we never come back sooner than it asked.
 *
 * @param retry 1 for the first retry
 * @param random a number in [0, 1)
 */
export function retryDelayMs(retry: number, opts: BackoffOptions, random: number, retryAfterMs?: number): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, retry - 1));
  const jittered = exp / 2 + (exp / 2) * random;
  return Math.ceil(Math.max(jittered, retryAfterMs ?? 0));
}

/**
 * Parses a Retry-After header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). Also reads
 * the `retry-after-ms` header some providers send. Returns undefined when absent or unreadable;
 * a date in the past means "now" (0).
 */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const ms = first(headers['retry-after-ms']);
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = first(headers['retry-after'])?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  // All three HTTP-date forms start with a day name; Date.parse alone accepts things like "-3".
  const at = /^[A-Za-z]{3}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelayMs } from '../../../src/agent/llm/backoff.ts';

const opts = { baseMs: 100, maxMs: 1_000 };

describe('retryDelayMs', () => {
  it('doubles per retry, with jitter between half and all of the exponential step', () => {
    expect([1, 2, 3].map((n) => retryDelayMs(n, opts, 0))).toEqual([50, 100, 200]);
    expect([1, 2, 3].map((n) => retryDelayMs(n, opts, 0.999999))).toEqual([100, 200, 400]);
  });

  it('stops growing at maxMs', () => {
    expect(retryDelayMs(20, opts, 0.999999)).toBe(1_000);
    expect(retryDelayMs(20, opts, 0)).toBe(500);
  });

  it('never comes back before the provider\'s Retry-After', () => {
    expect(retryDelayMs(1, opts, 0, 3_000)).toBe(3_000);
    expect(retryDelayMs(3, opts, 0.999999, 10)).toBe(400);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter({ 'retry-after': '1' }, now)).toBe(1_000);
    expect(parseRetryAfter({ 'retry-after': '0.5' }, now)).toBe(500);
  });

  it('reads an HTTP-date as the time left until it', () => {
    expect(parseRetryAfter({ 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }, now)).toBe(7_000);
    expect(parseRetryAfter({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }, now)).toBe(0);
  });

  it('prefers retry-after-ms when present', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '1' }, now)).toBe(250);
  });

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter({}, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': '-3' }, now)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { clientKey, FailedAuthLimiter } from '../../../src/http/api/auth-failures.ts';
import { ApiError } from '../../../src/http/errors.ts';

describe('clientKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:0:0:0:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1:2:3:4', 'fe80:0:0:0::/64'],
  ])('%s → %s', (ip, key) => expect(clientKey(ip)).toBe(key));
});

describe('FailedAuthLimiter', () => {
  const refusal = (fn: () => void): ApiError | undefined => {
    try {
      fn();
    } catch (err) {
      return err as ApiError;
    }
    return undefined;
  };

  it('allows the bucket of failures, then 429 with Retry-After until one refills', () => {
    let now = 1_000_000;
    const limiter = new FailedAuthLimiter(6, () => now); // 6 a minute: one back every 10 s
    for (let i = 0; i < 6; i++) {
      expect(refusal(() => limiter.check('198.51.100.1'))).toBeUndefined();
      limiter.fail('198.51.100.1');
    }
    const err = refusal(() => limiter.check('198.51.100.1'));
    expect(err?.status).toBe(429);
    expect(err?.code).toBe('AUTH_RATE_LIMITED');
    expect(err?.headers['retry-after']).toBe('10');
    now += 9_000;
    expect(refusal(() => limiter.check('198.51.100.1'))?.headers['retry-after']).toBe('1');
    now += 1_000;
    expect(refusal(() => limiter.check('198.51.100.1'))).toBeUndefined();
  });

  it('counts one IPv6 /64 as one client', () => {
    const limiter = new FailedAuthLimiter(2);
    limiter.fail('2001:db8:1:2::1');
    limiter.fail('2001:db8:1:2::2');
    expect(refusal(() => limiter.check('2001:db8:1:2:ffff::9'))?.status).toBe(429);
    expect(refusal(() => limiter.check('2001:db8:1:3::1'))).toBeUndefined();
  });

  it('is off at 0', () => {
    const limiter = new FailedAuthLimiter(0);
    for (let i = 0; i < 100; i++) limiter.fail('198.51.100.1');
    expect(refusal(() => limiter.check('198.51.100.1'))).toBeUndefined();
  });
});

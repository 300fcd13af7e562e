import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS_TENANT, Authenticator } from '../../../src/http/api/auth.ts';
import { anonymousBindProblem, checkAuthBind } from '../../../src/config/bind.ts';
import { ApiError } from '../../../src/http/errors.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const keys = [
  { sha256: sha('alpha-key'), tenant: 'alpha' },
  { sha256: sha('beta-key'), tenant: 'beta' },
];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(401);
    return (err as ApiError).code;
  }
  return undefined;
}

describe('Authenticator', () => {
  const auth = new Authenticator(keys);

  it('maps a key to its tenant, from a Bearer token or X-API-Key', () => {
    expect(auth.tenant({ authorization: 'Bearer alpha-key' })).toBe('alpha');
    expect(auth.tenant({ authorization: 'bearer   beta-key ' })).toBe('beta');
    expect(auth.tenant({ 'x-api-key': 'beta-key' })).toBe('beta');
    // Authorization, when present, is the one that counts.
    expect(codeOf(() => auth.tenant({ authorization: 'Bearer wrong', 'x-api-key': 'alpha-key' }))).toBe('INVALID_API_KEY');
  });

  it('tells a missing or malformed credential (UNAUTHORIZED) from a wrong key (INVALID_API_KEY)', () => {
    expect(codeOf(() => auth.tenant({}))).toBe('UNAUTHORIZED');
    expect(codeOf(() => auth.tenant({ 'x-api-key': '' }))).toBe('UNAUTHORIZED');
    expect(codeOf(() => auth.tenant({ authorization: 'Basic YWxwaGEta2V5' }))).toBe('UNAUTHORIZED');
    expect(codeOf(() => auth.tenant({ authorization: 'Bearer two words' }))).toBe('UNAUTHORIZED');
    expect(codeOf(() => auth.tenant({ authorization: 'Bearer alpha-key2' }))).toBe('INVALID_API_KEY');
    // The configured hash itself is not a key.
    expect(codeOf(() => auth.tenant({ authorization: `Bearer ${sha('alpha-key')}` }))).toBe('INVALID_API_KEY');
  });

  it('serves every request as the anonymous tenant when no key is configured', () => {
    const open = new Authenticator([]);
    expect(open.tenant({})).toBe(ANONYMOUS_TENANT);
    expect(open.tenant({ authorization: 'Bearer anything' })).toBe(ANONYMOUS_TENANT);
  });
});

describe('checkAuthBind', () => {
  const config = (host: string, opts: { keys?: boolean; anonymous?: boolean } = {}) => {
    const c = defaultConfig();
    c.server.host = host;
    c.auth.allow_anonymous = opts.anonymous ?? false;
    c.auth.keys = opts.keys ? keys : [];
    return c;
  };

  it('allows anonymous access on loopback only', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', 'localhost']) expect(() => checkAuthBind(config(host))).not.toThrow();
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'api.example.com']) {
      let err: unknown;
      try {
        checkAuthBind(config(host));
      } catch (e) {
        err = e;
      }
      expect((err as { code: string }).code).toBe('CONFIG_INVALID');
      expect((err as Error).message).toContain(`server.host = "${host}"`);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('allows any address with API keys, or with auth.allow_anonymous', () => {
    expect(() => checkAuthBind(config('0.0.0.0', { keys: true }))).not.toThrow();
    expect(() => checkAuthBind(config('0.0.0.0', { anonymous: true }))).not.toThrow();
  });
});

describe('anonymousBindProblem (the address a socket is really bound to)', () => {
  const auth = (opts: { keys?: boolean; anonymous?: boolean } = {}) => ({ allow_anonymous: opts.anonymous ?? false, keys: opts.keys ? keys : [] });
  const where = 'fd 3 (systemd)';

  it.each([
    ['127.0.0.1', 8080],
    ['127.0.0.53', 80],
    ['::1', 8080],
    ['::ffff:127.0.0.1', 8080],
  ])('serves anonymously on loopback %s', (address, port) => {
    expect(anonymousBindProblem(auth(), { address, port }, where)).toBeUndefined();
  });

  it('serves anonymously on a unix socket (reachable through its file mode only)', () => {
    expect(anonymousBindProblem(auth(), '/run/drover/api.sock', where)).toBeUndefined();
  });

  it.each([
    ['0.0.0.0', '0.0.0.0:8080'],
    ['::', '[::]:8080'],
    ['10.0.0.5', '10.0.0.5:8080'],
    ['::ffff:10.0.0.5', '[::ffff:10.0.0.5]:8080'],
    ['128.0.0.1', '128.0.0.1:8080'],
  ])('refuses anonymous access on %s, naming the socket and the address', (address, shown) => {
    const problem = anonymousBindProblem(auth(), { address, port: 8080 }, where);
    expect(problem).toContain(`(fd 3 (systemd)) is bound to ${shown}, not a loopback address`);
    expect(problem).not.toContain('\n');
  });

  it('serves any address with keys, or with auth.allow_anonymous', () => {
    expect(anonymousBindProblem(auth({ keys: true }), { address: '0.0.0.0', port: 8080 }, where)).toBeUndefined();
    expect(anonymousBindProblem(auth({ anonymous: true }), { address: '::', port: 8080 }, where)).toBeUndefined();
  });
});

describe('Authenticator with failed attempts limited', () => {
  it('refuses an address 429 before hashing once its failures are spent, a right key too; other addresses are unaffected', () => {
    const auth = new Authenticator(keys, 3);
    const status = (key: string, ip: string) => {
      try {
        auth.tenant({ authorization: `Bearer ${key}` }, ip);
        return 200;
      } catch (err) {
        return (err as ApiError).status;
      }
    };
    expect([1, 2, 3].map(() => status('wrong', '203.0.113.7'))).toEqual([401, 401, 401]);
    expect(status('wrong', '203.0.113.7')).toBe(429);
    expect(status('alpha-key', '203.0.113.7')).toBe(429);
    expect(status('alpha-key', '203.0.113.8')).toBe(200);
    // A missing key is not a guess: it is answered 401 and not counted.
    expect(codeOf(() => auth.tenant({}, '203.0.113.9'))).toBe('UNAUTHORIZED');
  });
});

// API keys → tenants. The configuration holds only each key's SHA-256, so a leaked config
// file leaks no key. A presented key is hashed and compared with every configured hash in
// constant time, all of them every time, so neither the comparison nor the loop tells an
// attacker how close a guess came or which entry matched.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config/schema.ts';
import { ApiError } from '../errors.ts';
import { FailedAuthLimiter } from './auth-failures.ts';

/** The one tenant served when no key is configured. */
export const ANONYMOUS_TENANT = 'anonymous';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="drover"' };

/** The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. */
export function presentedKey(headers: FastifyRequest['headers']): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!match?.[1]) throw new ApiError(401, 'UNAUTHORIZED', 'the Authorization header must be "Bearer <API key>"', CHALLENGE);
    return match[1];
  }
  const header = headers['x-api-key'];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

export class Authenticator {
  private readonly keys: { hash: Buffer; tenant: string }[];
  private readonly failures: FailedAuthLimiter;

  /** `failedPerMinute`: failed attempts allowed per client address (limits.failed_auth_per_minute; 0 = no limit). */
  constructor(keys: Config['auth']['keys'], failedPerMinute = 0) {
    this.keys = keys.map((k) => ({ hash: Buffer.from(k.sha256, 'hex'), tenant: k.tenant }));
    this.failures = new FailedAuthLimiter(failedPerMinute);
  }

  get anonymous(): boolean {
    return this.keys.length === 0;
  }

  /**
   * The request's tenant, or a 401; with no keys configured every request is anonymous. A
   * client address (`ip`) whose failed attempts used up its bucket gets 429 before its key is
   * hashed, whether the key is right or not: else it could go on guessing.
   */
  tenant(headers: FastifyRequest['headers'], ip = ''): string {
    if (this.anonymous) return ANONYMOUS_TENANT;
    const key = presentedKey(headers);
    if (key === undefined) throw new ApiError(401, 'UNAUTHORIZED', 'an API key is required (Authorization: Bearer <key> or X-API-Key)', CHALLENGE);
    this.failures.check(ip);
    const hash = createHash('sha256').update(key).digest();
    let tenant: string | undefined;
    for (const k of this.keys) if (timingSafeEqual(hash, k.hash) && tenant === undefined) tenant = k.tenant;
    if (tenant === undefined) {
      this.failures.fail(ip);
      throw new ApiError(401, 'INVALID_API_KEY', 'the API key is not valid', CHALLENGE);
    }
    return tenant;
  }
}

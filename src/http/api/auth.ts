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

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(host);
}

/** A listening socket's own address (getsockname): host and port, or a unix socket's path. */
export type BoundAddress = { address: string; port: number } | string;

/**
 * Why the public API must not serve anonymous requests on the socket it actually listens on,
 * or undefined. The config's server.host says nothing about a socket systemd passed in
 * (LISTEN_FDS), so the supervisor asks this of every socket once it holds it. A unix socket is
 * reachable only through its file's permissions, so it counts as local.
 */
export function anonymousBindProblem(auth: Config['auth'], bound: BoundAddress, where: string): string | undefined {
  if (auth.keys.length > 0 || auth.allow_anonymous || typeof bound === 'string' || isLoopback(bound.address)) return undefined;
  const address = bound.address.includes(':') ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  return `the public socket (${where}) is bound to ${address}, not a loopback address, and no [[auth.keys]] are configured: add API keys, bind it to 127.0.0.1, or set auth.allow_anonymous = true to serve anyone who can reach the port`;
}

/** anonymousBindProblem as a refusal (code CONFIG_INVALID, one line). */
export function checkBoundAddress(auth: Config['auth'], bound: BoundAddress, where: string): void {
  const problem = anonymousBindProblem(auth, bound, where);
  if (problem) throw Object.assign(new Error(problem), { code: 'CONFIG_INVALID' });
}

/**
 * Throws (code CONFIG_INVALID, one line) when the public API would serve anonymous requests
 * on a non-loopback address: with no `[[auth.keys]]`, anyone who can reach the port could
 * spend the operator's LLM budget. The supervisor calls this before it listens.
 */
export function checkAuthBind(config: Pick<Config, 'server' | 'auth'>): void {
  const { server, auth } = config;
  if (auth.keys.length > 0 || auth.allow_anonymous || isLoopback(server.host)) return;
  throw Object.assign(
    new Error(`server.host = "${server.host}" is not a loopback address and no [[auth.keys]] are configured: add API keys, or set auth.allow_anonymous = true to serve anyone who can reach the port`),
    { code: 'CONFIG_INVALID' },
  );
}

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

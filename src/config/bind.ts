// The anonymous-bind rule: drover never serves anonymous requests where anyone on the network
// can reach them. Config validation, preflight and the supervisor (for sockets systemd passes
// in) all apply it, so it lives with the config rather than with the HTTP app.
import type { Config } from './schema.ts';

export function isLoopback(host: string): boolean {
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

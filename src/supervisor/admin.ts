import http from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { SupervisorMetrics } from './metrics.ts';
import { snapshot } from './status.ts';
import type { Supervisor } from './supervisor.ts';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * The admin endpoint: /metrics for Prometheus and /status for people and scripts. It listens on
 * loopback unless admin.allow_remote is set, and then every request needs the bearer token
 * (the config loader refuses allow_remote without one).
 */
export async function startAdmin(sup: Supervisor, metrics: SupervisorMetrics, config: Config['admin'], log: Logger): Promise<http.Server | undefined> {
  if (!config.enabled) return undefined;
  if (!isLoopback(config.host) && !config.allow_remote) {
    throw Object.assign(new Error(`admin.host ${config.host} is not a loopback address; set admin.allow_remote = true and admin.token to expose it`), { code: 'CONFIG_INVALID' });
  }
  const server = http.createServer(async (req, res) => {
    if (config.allow_remote && !sameSecret(req.headers.authorization ?? '', `Bearer ${config.token}`)) {
      return json(res, 401, { error: { code: 'UNAUTHORIZED', message: 'admin endpoint needs Authorization: Bearer <admin.token>' } });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return json(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method} is not allowed` } });
    try {
      if (path === '/metrics') {
        const { contentType, body } = await metrics.render(sup);
        res.writeHead(200, { 'content-type': contentType }).end(body);
      } else if (path === '/status') {
        json(res, 200, snapshot(sup));
      } else {
        json(res, 404, { error: { code: 'NOT_FOUND', message: `no route for GET ${path}; try /metrics or /status` } });
      }
    } catch (err) {
      log.error({ err }, 'admin request failed');
      json(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(Object.assign(new Error(`cannot listen on admin ${config.host}:${config.port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`), { code: err.code })));
    server.listen(config.port, config.host, resolve);
  });
  const addr = server.address();
  log.info({ host: config.host, port: typeof addr === 'object' && addr ? addr.port : config.port }, 'admin listening');
  return server;
}

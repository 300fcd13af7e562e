import http from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Config } from '../config/schema.ts';
import { isLoopback } from '../config/bind.ts';
import type { Logger } from '../log.ts';
import type { SupervisorMetrics } from './metrics.ts';
import { snapshot } from './status.ts';
import { servePage } from '../admin/routes.ts';
import type { Monitor } from '../admin/monitor.ts';
import type { Supervisor } from './supervisor.ts';

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/**
 * The bearer token, or (so a browser can open the status page) HTTP Basic with the token as
 * the password and any user name: the browser asks once and sends it with the event stream too.
 */
function authorized(header: string, token: string): boolean {
  if (sameSecret(header, `Bearer ${token}`)) return true;
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
  if (!basic) return false;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  return decoded.includes(':') && sameSecret(decoded.slice(decoded.indexOf(':') + 1), token);
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * The admin endpoint: /metrics for Prometheus, /status for scripts, / (the status page, live
 * over /events) for people. It listens on loopback unless admin.allow_remote is set, and then
 * every request needs the token (the config loader refuses allow_remote without one).
 */
export async function startAdmin(sup: Supervisor, monitor: Monitor, metrics: SupervisorMetrics, config: Config['admin'], log: Logger): Promise<http.Server | undefined> {
  if (!config.enabled) return undefined;
  if (!isLoopback(config.host) && !config.allow_remote) {
    throw Object.assign(new Error(`admin.host ${config.host} is not a loopback address; set admin.allow_remote = true and admin.token to expose it`), { code: 'CONFIG_INVALID' });
  }
  const server = http.createServer(async (req, res) => {
    if (config.allow_remote && !authorized(req.headers.authorization ?? '', config.token)) {
      res.setHeader('www-authenticate', 'Basic realm="drover admin", charset="UTF-8"');
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
      } else if (!servePage(monitor, path ?? '/', req, res)) {
        json(res, 404, { error: { code: 'NOT_FOUND', message: `no route for GET ${path}; try /, /metrics or /status` } });
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

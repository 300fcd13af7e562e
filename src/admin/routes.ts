// The status page's two routes on the admin endpoint: `/` (the page) and `/events` (the view,
// pushed once a second as server-sent events). Authorisation is the admin endpoint's, checked
// before these run.
import type http from 'node:http';
import type { Monitor } from './monitor.ts';
import { statusPage } from './assets.ts';

const PUSH_MS = 1000;
/** Each open page costs a view a second; a few people look at once, not hundreds. */
export const MAX_VIEWERS = 16;

const viewers = new Set<http.ServerResponse>();

function json(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code, message } }));
}

/** Answers `/` and `/events`; returns false for any other path. */
export function servePage(monitor: Monitor | undefined, path: string, req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (path === '/') {
    const { html, csp } = statusPage();
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': csp,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    }).end(html);
    return true;
  }
  if (path !== '/events') return false;
  if (!monitor) {
    json(res, 503, 'NOT_READY', 'the status monitor is not running yet');
    return true;
  }
  if (viewers.size >= MAX_VIEWERS) {
    json(res, 503, 'TOO_MANY_VIEWERS', `at most ${MAX_VIEWERS} status pages may be open at once`);
    return true;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  viewers.add(res);
  // An open page must not keep a stopping supervisor alive.
  req.socket.unref();
  let seen = 0;
  const push = () => {
    const view = monitor.view(seen);
    seen = view.samples.at(-1)?.at ?? seen;
    res.write(`data: ${JSON.stringify(view)}\n\n`);
  };
  push();
  const timer = setInterval(push, PUSH_MS);
  timer.unref();
  res.on('close', () => {
    clearInterval(timer);
    viewers.delete(res);
  });
  return true;
}

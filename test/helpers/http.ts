import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: <T = Record<string, unknown>>() => T;
}

/** One request on a new connection (no keep-alive), as a load balancer's health check would. */
export function request(url: string, opts: { method?: string; body?: string | Buffer; headers?: Record<string, string>; agent?: http.Agent; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body, json: <T>() => JSON.parse(body) as T }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 30_000} ms: ${url}`)));
    req.end(opts.body);
  });
}

/**
 * Sends requests from `concurrency` loops until stop() is called; counts what failed (the
 * error's code, e.g. ECONNRESET, else its message) and which child pid answered each success.
 * Bounded by `maxRequests` so a runaway test stays small. With `keepAlive` each loop is a
 * client of its own on one keep-alive connection (http.Agent, as a service calling drover
 * keeps one), pausing up to `pauseMs` between calls so its connection sits idle in the child;
 * otherwise each request opens a new connection.
 */
export function loadLoop(url: string, concurrency: number, opts: { maxRequests?: number; keepAlive?: boolean; pauseMs?: number } = {}) {
  const { maxRequests = 50_000, keepAlive = false, pauseMs = 0 } = opts;
  let running = true;
  const byPid = new Map<number, number>();
  const failures: string[] = [];
  let sent = 0;
  const agents = keepAlive ? Array.from({ length: concurrency }, () => new http.Agent({ keepAlive: true, maxSockets: 1 })) : [];
  const loops = Array.from({ length: concurrency }, async (_, i) => {
    while (running && sent < maxRequests) {
      sent++;
      try {
        const r = await request(url, { timeoutMs: 10_000, ...(keepAlive && { agent: agents[i]! }) });
        if (r.status !== 200) failures.push(`status ${r.status}: ${r.body}`);
        else {
          const pid = r.json<{ pid: number }>().pid;
          byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
        }
      } catch (err) {
        failures.push((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
      if (pauseMs > 0) await sleep(Math.random() * pauseMs);
    }
  });
  return {
    byPid,
    failures,
    get sent() {
      return sent;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every `stepMs` until its value passes `ok`; fails after `timeoutMs` with the last value seen. */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string, stepMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await fn();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

/** Polls `pred` every `stepMs` until it holds; throws when it still does not after `ms`. */
export async function eventually(pred: () => boolean, ms = 2000, stepMs = 10): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(stepMs);
  }
}

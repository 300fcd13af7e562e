// Open-loop load generator: requests leave on a fixed schedule whatever the server does, and
// latency is measured from the *scheduled* send time, so a stalled server cannot hide its
// stall by slowing the client down (no coordinated omission). A seeded share of requests is
// heavy (/debug/spin) or long-lived (/debug/hold); the rest are light (/v1/ping).
// Run as a script it takes one JSON argument (OpenLoopOptions) and prints one JSON result, so
// the benchmark runs it in its own process, away from the orchestrator's event loop.
import http from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { seededRandom, summarize } from './stats.ts';

export interface OpenLoopOptions {
  host: string;
  port: number;
  /** Requests per second, evenly spaced. */
  rate: number;
  /** Seconds of the same schedule sent first and not measured. */
  warmupS: number;
  durationS: number;
  /** `conn`: a new connection per request; `keepalive`: a pool of `connections`, opened on demand. */
  mode: 'conn' | 'keepalive';
  connections: number;
  heavyShare: number;
  heavyMs: number;
  holdShare: number;
  holdMs: number;
  seed: number;
  /** A request not answered in this long counts as an error. */
  timeoutMs: number;
}

type Kind = 'light' | 'heavy' | 'hold';
type Summary = ReturnType<typeof summarize>;

export interface OpenLoopResult {
  measured: number;
  ok: number;
  errors: Record<string, number>;
  /** Failures of warm-up requests: not in the latencies, but a sign of trouble all the same. */
  warmupErrors: Record<string, number>;
  light: Summary;
  heavy: Summary;
  hold: Summary;
  /** Light and heavy requests (long-lived holds left out: they last holdMs by design). */
  all: Summary;
  /** Measured requests per responding pid. */
  byChild: Record<string, number>;
  /** Measured long-lived requests per responding pid. */
  holdByChild: Record<string, number>;
  /** Keep-alive connections per pid (every connection the pool opened, warm-up included). */
  connsByChild: Record<string, number>;
  /** How late requests left compared to the schedule: the generator's own error. */
  sendLag: Summary;
  elapsedS: number;
}

const PATHS = (o: OpenLoopOptions): Record<Kind, string> => ({
  light: '/v1/ping',
  heavy: `/debug/spin?ms=${o.heavyMs}`,
  hold: `/debug/hold?ms=${o.holdMs}`,
});

function kinds(o: OpenLoopOptions, count: number): Kind[] {
  const random = seededRandom(o.seed);
  return Array.from({ length: count }, () => {
    const r = random();
    return r < o.heavyShare ? 'heavy' : r < o.heavyShare + o.holdShare ? 'hold' : 'light';
  });
}

export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const interval = 1000 / o.rate;
  const warmupCount = Math.round(o.warmupS * o.rate);
  const total = warmupCount + Math.round(o.durationS * o.rate);
  const plan = kinds(o, total);
  const paths = PATHS(o);
  const agent = o.mode === 'keepalive'
    ? new http.Agent({ keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections, scheduling: 'fifo' })
    : undefined;

  const latency: Record<Kind, number[]> = { light: [], heavy: [], hold: [] };
  const errors: Record<string, number> = {};
  const warmupErrors: Record<string, number> = {};
  const byChild: Record<string, number> = {};
  const holdByChild: Record<string, number> = {};
  const socketPid = new Map<Socket, string>();
  const connsByChild: Record<string, number> = {};
  const lags: number[] = [];
  let ok = 0;
  let pending = 0;
  let allSent!: () => void;
  const finished = new Promise<void>((r) => (allSent = r));

  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

  function fire(i: number, scheduled: number): void {
    const kind = plan[i]!;
    const measured = i >= warmupCount;
    if (measured) lags.push(performance.now() - scheduled);
    pending++;
    let settled = false;
    const settle = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) bump(measured ? errors : warmupErrors, error);
      if (--pending === 0 && sending === false) allSent();
    };
    const req = http.request({
      host: o.host,
      port: o.port,
      path: paths[kind],
      agent: agent ?? false,
      headers: agent ? {} : { connection: 'close' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => settle('response_error'));
      res.on('end', () => {
        const elapsed = performance.now() - scheduled;
        if (res.statusCode !== 200) return settle(`status_${res.statusCode}`);
        let pid = '?';
        try {
          pid = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { pid?: number }).pid ?? '?');
        } catch {
          return settle('bad_body');
        }
        if (agent && req.socket && !socketPid.has(req.socket)) {
          socketPid.set(req.socket, pid);
          bump(connsByChild, pid);
        }
        if (measured) {
          latency[kind].push(elapsed);
          bump(byChild, pid);
          if (kind === 'hold') bump(holdByChild, pid);
          ok++;
        }
        settle();
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      settle('timeout');
    }, o.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? 'request_error'));
    req.end();
  }

  const start = performance.now() + 20;
  let next = 0;
  let sending = true;
  const tick = () => {
    const now = performance.now();
    while (next < total && start + next * interval <= now) {
      fire(next, start + next * interval);
      next++;
    }
    if (next < total) {
      setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
      return;
    }
    sending = false;
    if (pending === 0) allSent();
  };
  setTimeout(tick, 20);
  await finished;
  agent?.destroy();

  const all = [...latency.light, ...latency.heavy];
  return {
    measured: total - warmupCount,
    ok,
    errors,
    warmupErrors,
    light: summarize(latency.light),
    heavy: summarize(latency.heavy),
    hold: summarize(latency.hold),
    all: summarize(all),
    byChild,
    holdByChild,
    connsByChild,
    sendLag: summarize(lags),
    elapsedS: (performance.now() - start) / 1000,
  };
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? '{}') as OpenLoopOptions;
  runOpenLoop(options).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (err: unknown) => {
      process.stderr.write(`openloop: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

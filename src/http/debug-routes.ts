import type { FastifyInstance } from 'fastify';
import { path } from './routes.ts';

// Routes that let tests and benchmarks make a child slow, busy, hung, fat or dead on purpose.
// They exist only when DROVER_DEBUG_ROUTES=1 is in the environment: never on by config.
export const DEBUG_ROUTES_ENV = 'DROVER_DEBUG_ROUTES';

const held: Buffer[] = [];

/** Keeps this thread busy for `ms` of wall time (less CPU than that on a busy machine). */
export function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Keeps this thread busy until it has used `ms` of CPU, as a CPU-heavy handler does however
 * busy the machine is (a wall-time spin may get little CPU on a starved one). At most 10 s.
 */
export function burn(ms: number): void {
  const start = process.threadCpuUsage();
  const cap = performance.now() + 10_000;
  for (;;) {
    const used = process.threadCpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms || performance.now() > cap) return;
    spin(1);
  }
}

export function registerDebugRoutes(app: FastifyInstance, childId: number): void {
  const ms = (q: unknown, key = 'ms') => Math.max(0, Number((q as Record<string, string>)[key] ?? 0) || 0);
  // Ends early when the client goes away, so a test can hold a child busy exactly as long as it needs.
  path(app, '/debug/hold', [{ method: 'GET', handler: async (req, reply) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms(req.query));
      reply.raw.once('close', done);
      function done(): void {
        clearTimeout(timer);
        reply.raw.off('close', done);
        resolve();
      }
    });
    return { child: childId, pid: process.pid };
  } }]);
  // `ms` of wall time, or with `cpu=1` of this thread's CPU time (however long that takes).
  path(app, '/debug/spin', [{ method: 'GET', handler: async (req) => {
    if ((req.query as Record<string, string>).cpu === '1') burn(ms(req.query));
    else spin(ms(req.query));
    return { child: childId, pid: process.pid };
  } }]);
  path(app, '/debug/hang', [{ method: 'POST', handler: async () => {
    setImmediate(() => { for (;;) spin(1000); });
    return { child: childId, pid: process.pid, hanging: true };
  } }]);
  path(app, '/debug/alloc', [{ method: 'POST', handler: async (req) => {
    const mb = ms(req.query, 'mb');
    for (let i = 0; i < mb; i++) held.push(Buffer.alloc(1 << 20, 1));
    return { child: childId, pid: process.pid, rss: process.memoryUsage.rss() };
  } }]);
  path(app, '/debug/exit', [{ method: 'POST', handler: async (req) => {
    setImmediate(() => process.exit(ms(req.query, 'code')));
    return { child: childId, pid: process.pid };
  } }]);
}

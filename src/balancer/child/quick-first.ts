import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HEAVY_MS, quickest, RouteCosts } from '../route-cost.ts';

/** However heavy its route, a request waits for lighter ones at most this long. */
const MAX_WAIT_MS = 100;

type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

interface Waiting {
  run: () => void;
  expected: number;
  since: number;
}

/**
 * Lets quick requests a child has already taken go before a handler that holds its event loop.
 *
 * A connection given to a child is served in arrival order: when a handler burns 40 ms of CPU,
 * every request the child had read or accepted before it starts waits those 40 ms, even though
 * each would take a fraction of a millisecond. After both children were busy, the first to free
 * up takes everything that queued in the kernel meanwhile, heavy requests among them. Serving
 * the cheapest work first is what cuts the light requests' tail (bench/queue-sim.ts: p99 58 →
 * 34 ms on the benchmark's schedule); the supervisor does that for the requests it reads, and
 * this does it inside a child for the ones it accepted itself.
 *
 * It learns per route how long a handler keeps the loop (the synchronous part of the call,
 * RouteCosts).
 * A request to a heavy route is started from the event loop's check phase instead of at once,
 * so the requests that the poll phase reads meanwhile run first; it starts once a turn of the
 * loop brings no new connection or request, or once it has waited about its own expected
 * hold (capped at MAX_WAIT_MS), so a stream of quick requests cannot starve it. One heavy
 * request starts per turn, the one with the least expected hold minus the time it has waited
 * (`quickest`, as the supervisor's ReboundQueue orders). Routes that await I/O and never hold
 * the loop are never delayed, which is how drover's own API behaves (agents run on executor
 * threads).
 */
export class QuickFirst {
  /** Requests started late because their route was heavy. */
  deferred = 0;
  private readonly costs = new RouteCosts();
  private readonly waiting: Waiting[] = [];
  private arrivals = 0;
  private arrivalsAtTurn = 0;
  private scheduled = false;
  private afterWaiting: (() => void)[] = [];

  /** Wraps every route's handler as it is added; call before the routes are registered. */
  register(app: FastifyInstance, server: Server): void {
    // A connection accepted in this turn is read in the next: it counts as coming work.
    server.on('connection', () => this.arrivals++);
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method.join(',') : route.method;
      route.handler = this.wrap(`${methods} ${route.url}`, route.handler as Handler) as typeof route.handler;
    });
  }

  /**
   * Calls `done` once the event loop has turned after every request waiting now has started:
   * after one turn when none waits. The supervisor counts a request it handed over as taken
   * only then, so it does not hand this child the next one while a heavy one is about to run.
   * Whether one waits is asked in the check phase, not now: a route behind async hooks (the
   * API-key check of a routes plugin, a plugin's own) reaches its handler, and so the queue
   * here, only once the promise jobs after the request's parse have run.
   */
  afterStarted(done: () => void): void {
    setImmediate(() => {
      if (this.waiting.length === 0) done();
      else this.afterWaiting.push(done);
    });
  }

  /** Expected event-loop hold of a route in ms (undefined for one not seen holding it). */
  expected(route: string): number | undefined {
    return this.costs.expected(route);
  }

  wrap(route: string, handler: Handler): Handler {
    const self = this;
    return function quickFirst(this: FastifyInstance, request, reply) {
      self.arrivals++;
      const expected = self.costs.expected(route);
      if (expected === undefined || expected < HEAVY_MS) return self.timed(route, handler, this, request, reply);
      self.deferred++;
      return new Promise((resolve, reject) => {
        const run = () => {
          try {
            // A handler that sends by itself and returns nothing would make fastify send an
            // empty reply once the promise settles; resolving to the reply waits for its own.
            const result = self.timed(route, handler, this, request, reply);
            resolve(result === undefined ? reply : result);
          } catch (err) {
            reject(err);
          }
        };
        self.waiting.push({ run, expected, since: performance.now() });
        self.schedule();
      });
    };
  }

  private timed(route: string, handler: Handler, app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): unknown {
    const start = performance.now();
    try {
      return handler.call(app, request, reply);
    } finally {
      this.costs.learn(route, performance.now() - start);
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  /** Runs in the check phase, after the poll phase has started whatever it read. */
  private turn(): void {
    this.scheduled = false;
    const now = performance.now();
    const quiet = this.arrivals === this.arrivalsAtTurn;
    this.arrivalsAtTurn = this.arrivals;
    const best = quickest(this.waiting, (w) => w.expected, now);
    const next = this.waiting[best]!;
    if (quiet || now - next.since >= Math.min(next.expected, MAX_WAIT_MS)) {
      this.waiting.splice(best, 1);
      next.run();
    }
    if (this.waiting.length) return this.schedule();
    const after = this.afterWaiting;
    this.afterWaiting = [];
    for (const done of after) setImmediate(done);
  }
}

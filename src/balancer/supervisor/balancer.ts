import type { Socket } from 'node:net';
import { ReboundQueue, routeKey } from './rebound-queue.ts';
import { leastLoad } from './least-load.ts';
import type { Target } from './target.ts';

export interface BalancerStats {
  queued: number;
  /** Connections answered 503 at once: every refusal, and by why (its `reason` label in /metrics). */
  refused: number;
  refusedBy: Record<RefusalReason, number>;
  /** Connections closed after waiting longer than the queue timeout. */
  timedOut: number;
  /** Connections that could not be written to a child's channel. */
  handoffFailed: number;
  /** Connections handed over, by child id. */
  handed: Map<number, number>;
}

/** Why a connection was refused: the wait queue was full, the node is draining, or drover is stopping. */
export type RefusalReason = 'queue_full' | 'draining' | 'stopping';

export interface BalancerOptions {
  queueLimit: number;
  queueTimeoutMs: number;
  /**
   * Takes a new connection that would wait, to read the start of its request first; it comes
   * back through accept(socket, head). False when it cannot (the socket then waits unread).
   */
  readFirst?: (socket: Socket) => boolean;
}

/** Longest gap between two sweeps for connections past queue_timeout (half the timeout when shorter). */
const EXPIRE_SWEEP_MS = 1000;

/** Health checks: answered by any ready child, full or not (see acceptRebound). */
const HEALTH_ROUTES = new Set(['GET /healthz', 'GET /readyz', 'HEAD /healthz', 'HEAD /readyz']);

interface Waiting {
  socket: Socket;
  since: number;
}

// Said to a client the supervisor cannot place: a real HTTP answer beats a reset connection.
function unavailable(code: string, message: string): string {
  const body = `${JSON.stringify({ error: { code, message } })}\n`;
  return `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
const OVERLOADED = unavailable('OVERLOADED', 'all children are at capacity');
const DRAINING = unavailable('DRAINING', 'this node is draining');
const ANSWERS: Record<RefusalReason, string> = { queue_full: OVERLOADED, draining: DRAINING, stopping: OVERLOADED };

/**
 * Places each connection on the least-loaded child with room. It binds late: when no child has
 * room, the connection waits here, still paused, and goes to the first child that frees up
 * (assigning on arrival queues light requests behind heavy ones inside a busy child).
 */
export class Balancer {
  readonly stats: BalancerStats = {
    queued: 0, refused: 0, refusedBy: { queue_full: 0, draining: 0, stopping: 0 }, timedOut: 0, handoffFailed: 0, handed: new Map(),
  };
  private queue: Waiting[] = [];
  private head = 0;
  /** Requests read from idle keep-alive connections, waiting for a free child (quick routes first). */
  private readonly rebound = new ReboundQueue();
  private closed = false;
  private refusing = false;
  private readonly sweeper: NodeJS.Timeout;

  private readonly picker = leastLoad();
  private readonly targets: () => readonly Target[];
  private readonly opts: BalancerOptions;

  constructor(targets: () => readonly Target[], opts: BalancerOptions) {
    this.targets = targets;
    this.opts = opts;
    this.sweeper = setInterval(() => this.expire(), Math.min(EXPIRE_SWEEP_MS, opts.queueTimeoutMs / 2));
    this.sweeper.unref();
  }

  /** While set, every new connection is answered 503 DRAINING (the node is being emptied). */
  get draining(): boolean {
    return this.refusing;
  }

  setDraining(on: boolean): void {
    this.refusing = on;
  }

  get waiting(): number {
    return this.queued + this.rebound.size;
  }

  /** Connections waiting in arrival order (not read from). */
  private get queued(): number {
    return this.queue.length - this.head;
  }

  /**
   * A new connection from the listening socket, or a kept-alive one whose next request has
   * begun (`head`: the bytes read from it so far, which travel with it).
   */
  accept = (socket: Socket, head?: Buffer): void => {
    socket.on('error', () => {});
    if (this.closed) return this.refuse(socket, 'stopping');
    if (this.refusing) return this.refuse(socket, 'draining');
    if (head) return this.acceptRebound(socket, head);
    if (this.waiting === 0) {
      const t = this.pick(false);
      if (t) return this.send(t, socket);
    }
    if (this.waiting >= this.opts.queueLimit) return this.refuse(socket, 'queue_full');
    // Every child is full: the request is read first, so that a health check goes ahead.
    if (this.opts.readFirst?.(socket)) return;
    this.queue.push({ socket, since: Date.now() });
    this.stats.queued = this.waiting;
  };

  private acceptRebound(socket: Socket, head: Buffer): void {
    const now = performance.now();
    const route = routeKey(head);
    // A health check never queues behind work: a load balancer that waits for it takes the
    // node out while it is only busy. It costs a child next to nothing, so any ready child
    // takes it, the least loaded first, at its target or not.
    if (HEALTH_ROUTES.has(route)) {
      const t = leastLoaded(this.targets());
      if (t) return this.send(t, socket, { head, route });
    }
    if (this.rebound.size === 0) {
      const t = this.pick(true);
      if (t) return this.send(t, socket, { head, route });
    }
    if (this.waiting >= this.opts.queueLimit) return this.refuse(socket, 'queue_full');
    this.rebound.push({ socket, head, route, since: now });
    this.stats.queued = this.waiting;
  }

  /** Called when a child may have room: on ready, and on every load report. */
  dispatch(): void {
    const now = performance.now();
    this.rebound.learn(now);
    while (this.rebound.size > 0) {
      const t = this.pick(true);
      if (!t) break;
      const r = this.rebound.take(now)!;
      if (!r.socket.destroyed) this.send(t, r.socket, r);
    }
    while (this.queued > 0) {
      const t = this.pick(false);
      if (!t) break;
      const w = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Waiting;
      if (!w.socket.destroyed) this.send(t, w.socket);
    }
    this.compact();
  }

  /** Refuses whatever waits and everything that still arrives. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const r of this.rebound.clear()) this.refuse(r.socket, 'stopping');
    while (this.queued > 0) this.refuse(this.queue[this.head++]!.socket, 'stopping');
    this.compact();
  }

  /**
   * A request on a kept-alive connection (`rebound`: its start was read) goes only to a child
   * that has taken everything handed to it so far. One that has not may be stuck in a long
   * synchronous handler, and the request would wait behind it; it waits here instead and goes
   * to whichever child reports first (what node:cluster's round robin gets by waiting for each
   * handle's ack). A new connection goes to any child heard from lately: a burst of them makes
   * every child unsettled for a moment, but one gone silent is held.
   */
  private pick(rebound: boolean): Target | undefined {
    return this.picker.pick(this.targets().filter((t) => (rebound ? t.settled() : t.heard())));
  }

  /** `read`: the request the balancer read from the connection, which travels with it. */
  private send(t: Target, socket: Socket, read?: { head: Buffer; route: string }): void {
    this.stats.handed.set(t.id, (this.stats.handed.get(t.id) ?? 0) + 1);
    if (read) this.rebound.handedTo(t, read.route, performance.now());
    t.handoff(socket, read?.head, (err) => {
      if (!err) return;
      this.stats.handoffFailed++;
      // The channel closed before the handle was written: the socket is still ours to place.
      if (!socket.destroyed) this.accept(socket, read?.head);
    });
  }

  private refuse(socket: Socket, reason: RefusalReason): void {
    this.stats.refused++;
    this.stats.refusedBy[reason]++;
    socket.end(ANSWERS[reason]);
  }

  private expire(): void {
    for (const r of this.rebound.expire(performance.now() - this.opts.queueTimeoutMs)) {
      this.stats.timedOut++;
      r.socket.end(OVERLOADED);
    }
    const limit = Date.now() - this.opts.queueTimeoutMs;
    while (this.queued > 0 && this.queue[this.head]!.since < limit) {
      this.stats.timedOut++;
      this.queue[this.head++]!.socket.end(OVERLOADED);
    }
    this.compact();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.queue.length === this.head) {
      this.queue = [];
      this.head = 0;
    }
    this.stats.queued = this.waiting;
  }
}

/** The ready child with the least load, whatever its target; one heard from lately first (a
 * health check sent to a held child times out, and the load balancer takes the node out). */
function leastLoaded(targets: readonly Target[]): Target | undefined {
  let best: Target | undefined;
  for (const t of targets) {
    if (!t.accepts()) continue;
    if (!best || (t.heard() && !best.heard()) || (t.heard() === best.heard() && t.load() < best.load())) best = t;
  }
  return best;
}

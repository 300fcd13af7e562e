import type { Socket } from 'node:net';
import type { Target } from './target.ts';
import { quickest, RouteCosts } from '../route-cost.ts';

export interface Rebound {
  socket: Socket;
  head: Buffer;
  route: string;
  since: number;
}

/** Bytes of a request's start searched for its request line: a longer target is cut (its key too). */
const REQUEST_LINE_BYTES = 512;

/** A path segment that looks like an id: a number, a token with digits in it, or anything long ("v1" is not). */
const looksLikeId = (seg: string) => /^\d+$/.test(seg) || (seg.length > 4 && /\d/.test(seg)) || seg.length > 24;

/**
 * "GET /v1/tasks/*" from the start of a request: method and path, with segments that look like
 * ids folded, so that one route is one key.
 */
export function routeKey(head: Buffer): string {
  const line = head.toString('latin1', 0, Math.min(head.length, REQUEST_LINE_BYTES));
  const end = line.indexOf('\r\n');
  const [method = '', target = ''] = (end >= 0 ? line.slice(0, end) : line).split(' ');
  const q = target.indexOf('?');
  const path = (q >= 0 ? target.slice(0, q) : target)
    .split('/')
    .map((seg) => (looksLikeId(seg) ? '*' : seg))
    .join('/');
  return `${method} ${path}`;
}

/**
 * Requests read from idle keep-alive connections, waiting for a child whose event loop is free.
 *
 * It learns, per route, how long a request holds a child's event loop (RouteCosts): the time
 * from handing it over until the child has taken it and turned its loop (Balancer hands such a
 * request only to a child that has taken everything before, so each child has at most one in
 * transit).
 * When several wait, the next to go is the one with the least expected hold minus the time it
 * has waited: quick requests no longer queue behind slow ones, and a slow one waits at most
 * about its own hold longer than it would have in arrival order.
 */
export class ReboundQueue {
  private readonly waiting: Rebound[] = [];
  private readonly costs = new RouteCosts();
  private readonly inTransit = new Map<Target, { route: string; at: number }>();

  get size(): number {
    return this.waiting.length;
  }

  push(r: Rebound): void {
    this.waiting.push(r);
  }

  /** Takes the request to hand over next. */
  take(now: number): Rebound | undefined {
    const best = quickest(this.waiting, (r) => this.expected(r.route), now);
    return best < 0 ? undefined : this.waiting.splice(best, 1)[0];
  }

  /** Removes and returns what waited since before `limit`. */
  expire(limit: number): Rebound[] {
    const old: Rebound[] = [];
    let kept = 0;
    for (const r of this.waiting) {
      if (r.since < limit) old.push(r);
      else this.waiting[kept++] = r;
    }
    this.waiting.length = kept;
    return old;
  }

  /** Removes and returns everything. */
  clear(): Rebound[] {
    return this.waiting.splice(0);
  }

  handedTo(t: Target, route: string, now: number): void {
    this.inTransit.set(t, { route, at: now });
  }

  /** Learns from every child that has taken what it was handed. */
  learn(now: number): void {
    for (const [t, sent] of this.inTransit) {
      // A child that went away teaches nothing; one that has not taken its request yet, later.
      if (!t.accepts()) {
        this.inTransit.delete(t);
        continue;
      }
      if (!t.settled()) continue;
      this.inTransit.delete(t);
      this.costs.learn(sent.route, now - sent.at);
    }
  }

  /** Expected event-loop hold of a route in ms (0 for a route not known to be heavy). */
  expected(route: string): number {
    return this.costs.expected(route) ?? 0;
  }
}

import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ReboundQueue, routeKey } from '../../../src/balancer/supervisor/rebound-queue.ts';
import type { Target } from '../../../src/balancer/supervisor/target.ts';

const head = (s: string) => Buffer.from(s, 'latin1');

function child(): Target & { isSettled: boolean } {
  return {
    id: 1,
    target: 10,
    isSettled: false,
    load: () => 0,
    busy: () => 0,
    accepts: () => true,
    heard: () => true,
    settled() {
      return this.isSettled;
    },
    handoff: () => {},
  };
}

/** A queue that has learnt: `slow` holds a loop 40 ms, `quick` 0.5 ms. */
function learnt(): ReboundQueue {
  const q = new ReboundQueue();
  const t = child();
  for (const [route, ms] of [['GET /slow', 40], ['GET /quick', 0.5]] as const) {
    t.isSettled = false;
    q.handedTo(t, route, 1000);
    t.isSettled = true;
    q.learn(1000 + ms);
  }
  return q;
}

const entry = (route: string, since: number) => ({ socket: {} as Socket, head: Buffer.alloc(0), route, since });

describe('routeKey', () => {
  it('is the method and path, ids and query left out', () => {
    expect(routeKey(head('GET /v1/tasks/01JD9ZK3?wait=5 HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe('GET /v1/tasks/*');
    expect(routeKey(head(`POST /v1/sessions/${'a'.repeat(30)}/turns HTTP/1.1\r\n`))).toBe('POST /v1/sessions/*/turns');
    expect(routeKey(head('GET /v1/ping HTTP/1.1\r\nHo'))).toBe('GET /v1/ping');
    expect(routeKey(head('DELETE /users/42 HTTP/1.1\r\n'))).toBe('DELETE /users/*');
    // A first read that ends inside the request line still gives a key.
    expect(routeKey(head('GET /debug/sp'))).toBe('GET /debug/sp');
  });
});

describe('ReboundQueue', () => {
  it('learns how long a route holds a child: from handing over until the child has taken it', () => {
    const q = new ReboundQueue();
    const t = child();
    q.handedTo(t, 'GET /slow', 0);
    q.learn(10);
    expect(q.expected('GET /slow')).toBe(0);
    t.isSettled = true;
    q.learn(40);
    expect(q.expected('GET /slow')).toBe(40);
    t.isSettled = false;
    q.handedTo(t, 'GET /slow', 100);
    t.isSettled = true;
    q.learn(120);
    // A running average (RouteCosts): 40 moved three tenths of the way toward 20.
    expect(q.expected('GET /slow')).toBeCloseTo(34);
    expect(q.expected('GET /never-seen')).toBe(0);
  });

  it('hands over quick requests before slow ones that have not waited longer than their hold', () => {
    const q = learnt();
    q.push(entry('GET /slow', 0));
    q.push(entry('GET /quick', 1));
    q.push(entry('GET /quick', 2));
    expect([q.take(5), q.take(5), q.take(5)].map((r) => r!.route)).toEqual(['GET /quick', 'GET /quick', 'GET /slow']);
    expect(q.take(5)).toBeUndefined();
  });

  it('a slow request that has waited longer than its hold goes first (no starvation)', () => {
    const q = learnt();
    q.push(entry('GET /slow', 0));
    q.push(entry('GET /quick', 45));
    expect(q.take(46)!.route).toBe('GET /slow');
  });

  it('among equals keeps arrival order, and expires what waited too long', () => {
    const q = learnt();
    q.push(entry('GET /quick', 3));
    q.push(entry('GET /quick', 1));
    q.push(entry('GET /quick', 9));
    expect(q.expire(2).map((r) => r.since)).toEqual([1]);
    expect(q.size).toBe(2);
    expect(q.take(10)!.since).toBe(3);
    expect(q.clear().map((r) => r.since)).toEqual([9]);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { Balancer } from '../../../src/balancer/supervisor/balancer.ts';
import type { Target } from '../../../src/balancer/supervisor/target.ts';

const servers: net.Server[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

/** Real paused sockets from a loopback listener, as the supervisor gets them. */
async function sockets(n: number): Promise<{ accepted: net.Socket[]; clients: net.Socket[] }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const clients = await Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((r) => {
    const c = net.connect(port, '127.0.0.1', () => r(c));
  })));
  while (accepted.length < n) await new Promise((r) => setTimeout(r, 5));
  return { accepted, clients };
}

function child(id: number, cap: number) {
  const got: net.Socket[] = [];
  const t: Target & { got: net.Socket[]; done: number } = {
    id,
    target: cap,
    got,
    done: 0,
    load: () => got.length - t.done,
    busy: () => got.length - t.done,
    accepts: () => true,
    heard: () => true,
    settled: () => true,
    handoff: (s, _head, cb) => (got.push(s), cb(null)),
  };
  return t;
}

describe('Balancer wait queue', () => {
  it('holds connections while every child is full and hands them over in arrival order as children free up', async () => {
    const a = child(1, 1);
    const b = child(2, 1);
    const bal = new Balancer(() => [a, b], { queueLimit: 10, queueTimeoutMs: 10_000 });
    const { accepted, clients } = await sockets(4);
    accepted.forEach((s) => bal.accept(s));
    expect(a.got.length + b.got.length).toBe(2);
    expect(bal.waiting).toBe(2);
    a.done++;
    bal.dispatch();
    expect(a.got[1]).toBe(accepted[2]);
    expect(bal.waiting).toBe(1);
    b.done++;
    bal.dispatch();
    expect(b.got[1]).toBe(accepted[3]);
    expect(bal.waiting).toBe(0);
    clients.forEach((c) => c.destroy());
    bal.close();
  });

  it('passes over a child not heard from lately: a new connection waits for one that is; a health check goes to one that is, full or not', async () => {
    const silent = child(1, 10);
    silent.heard = () => false;
    const b = child(2, 1);
    const bal = new Balancer(() => [silent, b], { queueLimit: 10, queueTimeoutMs: 10_000 });
    const { accepted, clients } = await sockets(3);
    bal.accept(accepted[0]!);
    bal.accept(accepted[1]!);
    // The silent child looks idle, and b is full: the second connection waits.
    expect(b.got).toEqual([accepted[0]]);
    expect(silent.got).toEqual([]);
    expect(bal.waiting).toBe(1);
    bal.accept(accepted[2]!, Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'));
    expect(b.got).toEqual([accepted[0], accepted[2]]);
    // Heard from again (its report dispatches): the waiting connection goes to it.
    silent.heard = () => true;
    bal.dispatch();
    expect(silent.got).toEqual([accepted[1]]);
    expect(bal.waiting).toBe(0);
    clients.forEach((c) => c.destroy());
    bal.close();
  });

  it('answers 503 OVERLOADED when the queue is full', async () => {
    const a = child(1, 0);
    const bal = new Balancer(() => [a], { queueLimit: 1, queueTimeoutMs: 10_000 });
    const { accepted, clients } = await sockets(2);
    const answer = new Promise<string>((r) => {
      let text = '';
      clients[1]!.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => r(text));
    });
    accepted.forEach((s) => bal.accept(s));
    expect(bal.waiting).toBe(1);
    expect(await answer).toMatch(/^HTTP\/1.1 503 Service Unavailable[\s\S]*"code":"OVERLOADED"/);
    expect(bal.stats.refused).toBe(1);
    expect(bal.stats.refusedBy).toEqual({ queue_full: 1, draining: 0, stopping: 0 });
    clients.forEach((c) => c.destroy());
    bal.close();
  });

  // Each refusal is counted under its own reason (drover_balancer_refused_total{reason}): a
  // drained node's 503s are not a full queue.
  it.each([
    { why: 'draining', code: 'DRAINING', setup: (bal: Balancer) => bal.setDraining(true) },
    { why: 'stopping', code: 'OVERLOADED', setup: (bal: Balancer) => bal.close() },
  ] as const)('counts a refusal while $why under its own reason', async ({ why, code, setup }) => {
    const a = child(1, 5);
    const bal = new Balancer(() => [a], { queueLimit: 10, queueTimeoutMs: 10_000 });
    const { accepted, clients } = await sockets(1);
    const answer = new Promise<string>((r) => {
      let text = '';
      clients[0]!.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => r(text));
    });
    setup(bal);
    bal.accept(accepted[0]!);
    expect(await answer).toContain(`"code":"${code}"`);
    expect(a.got).toHaveLength(0);
    expect(bal.stats.refusedBy).toEqual({ queue_full: 0, draining: 0, stopping: 0, [why]: 1 });
    clients.forEach((c) => c.destroy());
    bal.close();
  });

  it('closes a connection that waited longer than the queue timeout', async () => {
    const a = child(1, 0);
    const bal = new Balancer(() => [a], { queueLimit: 10, queueTimeoutMs: 200 });
    const { accepted, clients } = await sockets(1);
    const ended = new Promise<void>((r) => clients[0]!.on('end', r).resume());
    bal.accept(accepted[0]!);
    await ended;
    expect(bal.stats.timedOut).toBe(1);
    expect(bal.waiting).toBe(0);
    clients.forEach((c) => c.destroy());
    bal.close();
  });
});

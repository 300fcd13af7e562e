import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientHandle, ListenHandle } from '../../../../src/balancer/supervisor/listen.ts';
import { DirectAccept, MOVE_MIN_AGE_MS, shouldMove, type MoveState } from '../../../../src/balancer/child/direct-accept.ts';
import { NO_LIMIT } from '../../../../src/ipc/messages.ts';
import { eventually } from '../../../helpers/http.ts';

// Real sockets on loopback: the listening handle of a net.Server is what a child receives from
// the supervisor (the same kernel socket), and DirectAccept takes it over.
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

async function sharedSocket(): Promise<{ handle: ListenHandle; port: number }> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { handle: (server as unknown as { _handle: ListenHandle })._handle, port: (server.address() as net.AddressInfo).port };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    sockets.push(s);
    s.on('error', reject);
  });
}

function harness(target: number) {
  const h = { load: 0, busy: 0, served: [] as net.Socket[], forwarded: [] as ClientHandle[], asks: 0 };
  const direct = new DirectAccept(target, {
    backlog: 64,
    load: () => h.load,
    busy: () => h.busy,
    serve: (socket) => {
      h.served.push(socket);
      sockets.push(socket);
      socket.end('served here\n');
    },
    forward: (client) => {
      h.forwarded.push(client);
      client.close();
    },
    askListen: () => h.asks++,
    listenFailed: (errno) => {
      throw new Error(`listen failed: ${errno}`);
    },
  });
  return { h, direct };
}

describe('DirectAccept', () => {
  it('serves connections while its load is under the limit', async () => {
    const { handle, port } = await sharedSocket();
    const { h, direct } = harness(10);
    direct.listen(handle, 10, false);
    const client = await connect(port);
    const answer = await new Promise<string>((r) => client.setEncoding('utf8').on('data', r));
    expect(answer).toBe('served here\n');
    expect(h.served).toHaveLength(1);
    expect(direct.accepted).toBe(1);
    expect(direct.forwarded).toBe(0);
  });

  it('at a limit under its target: sends the connection back, stops accepting, asks again once under the limit', async () => {
    const { handle, port } = await sharedSocket();
    const { h, direct } = harness(10);
    direct.listen(handle, 3, false);
    h.load = 3;
    await connect(port);
    await eventually(() => h.forwarded.length === 1);
    expect(h.served).toHaveLength(0);
    expect(direct.listening).toBe(false);
    direct.loadChanged();
    expect(h.asks).toBe(0);
    h.load = 2;
    direct.loadChanged();
    direct.loadChanged();
    expect(h.asks).toBe(1);
  });

  it('busy at its target: sends connections back to the supervisor queue but keeps accepting', async () => {
    const { handle, port } = await sharedSocket();
    const { h, direct } = harness(3);
    direct.listen(handle, NO_LIMIT, false);
    h.load = 6;
    h.busy = 3;
    await connect(port);
    await connect(port);
    await eventually(() => h.forwarded.length === 2);
    expect(direct.listening).toBe(true);
    expect(h.asks).toBe(0);
  });

  // Event streams and idle connections count in the load (children are compared by it) but
  // not as busy: a child holding thousands of them still takes new requests.
  it('with a load far over its target from open streams but few requests being answered: keeps serving', async () => {
    const { handle, port } = await sharedSocket();
    const { h, direct } = harness(3);
    direct.listen(handle, NO_LIMIT, false);
    h.load = 2000;
    h.busy = 2;
    const client = await connect(port);
    expect(await new Promise<string>((r) => client.setEncoding('utf8').on('data', r))).toBe('served here\n');
    expect(h.forwarded).toHaveLength(0);
  });

  it('with other children accepting, lets its load grow by at most the burst allowance between reports', async () => {
    const { handle, port } = await sharedSocket();
    const { h, direct } = harness(256);
    direct.listen(handle, 256, true);
    direct.reported(0);
    // Each served connection brings a request: load + 2.
    const grow = () => (h.load = h.served.length * 2);
    for (let i = 0; i < 5; i++) {
      await connect(port);
      await eventually(() => h.served.length + h.forwarded.length === i + 1);
      grow();
    }
    // Growth allowance at load 0 is 2: one connection (load 2) is kept, the rest go back.
    expect(h.served).toHaveLength(1);
    expect(h.forwarded).toHaveLength(4);
    expect(direct.listening).toBe(true);
    // After a report the allowance starts again from the reported load.
    direct.reported(h.load);
    await connect(port);
    await eventually(() => h.served.length === 2);
  });

  it('alone (no spread), takes a whole burst', async () => {
    const { handle, port } = await sharedSocket();
    const { h, direct } = harness(256);
    direct.listen(handle, 256, false);
    direct.reported(0);
    for (let i = 0; i < 5; i++) {
      await connect(port);
      await eventually(() => h.served.length === i + 1);
      h.load = h.served.length * 2;
    }
    expect(h.forwarded).toHaveLength(0);
  });

  it('after stop(), takes nothing more and never asks for the socket', async () => {
    const { handle } = await sharedSocket();
    const { h, direct } = harness(10);
    direct.listen(handle, 10, false);
    direct.stop();
    expect(direct.listening).toBe(false);
    h.load = 0;
    direct.loadChanged();
    expect(h.asks).toBe(0);
  });

  it('answered without a socket (the supervisor accepts itself): does not ask again', () => {
    const { h, direct } = harness(10);
    direct.listen(undefined, 10, false);
    direct.loadChanged();
    direct.setLimit(10, false);
    expect(h.asks).toBe(0);
    expect(direct.listening).toBe(false);
  });
});

describe('moving open keep-alive connections', () => {
  const over: MoveState = { limit: 20, spread: true, load: 30, age: MOVE_MIN_AGE_MS, moved: 0, budget: 3 };
  it.each<[string, Partial<MoveState>, boolean]>([
    ['over its limit, with others to take the connection', {}, true],
    ['loads close: no limit', { limit: NO_LIMIT }, false],
    ['alone: no one else accepts', { spread: false }, false],
    ['at its limit, not over it', { load: 20 }, false],
    ['a connection placed less than a second ago', { age: MOVE_MIN_AGE_MS - 1 }, false],
    ['its budget since the last report spent', { moved: 3 }, false],
    ['budget left', { moved: 2 }, true],
  ])('%s', (_what, change, expected) => {
    expect(shouldMove({ ...over, ...change })).toBe(expected);
  });

  it('moves at most a burst share between two reports, and counts what it moved', () => {
    const { direct } = harness(100);
    direct.setLimit(20, true);
    direct.reported(30); // budget: 10% of 30 = 3
    const first = Array.from({ length: 5 }, () => direct.moveConnection(30, MOVE_MIN_AGE_MS));
    expect(first).toEqual([true, true, true, false, false]);
    direct.reported(30);
    expect(direct.moveConnection(30, MOVE_MIN_AGE_MS)).toBe(true);
    expect(direct.moved).toBe(4);
    direct.setLimit(NO_LIMIT, true);
    expect(direct.moveConnection(30, MOVE_MIN_AGE_MS)).toBe(false);
  });
});

// The sockets the supervisor holds and what it does with them: the public listening socket,
// the balancer's wait queue, the idle keep-alive connections, and the exchange with each child
// (a copy of the listening socket when it asks, its accept limit, the connections it sends
// back). The supervisor accepts from the public socket only until a child holds a copy; then it
// takes its own accept away, steps aside (PublicSocket), and takes it back to drain or stop.
// docs/balancer.md describes the mechanisms; this module wires them to the children.
import net from 'node:net';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { Balancer, IdleConnections, PublicSocket, detachHandle, type ClientHandle, type ListenHandle } from '../balancer/supervisor/index.ts';
import { acceptLimit, type Steering } from '../balancer/supervisor/steering.ts';
import type { ChildHandle } from './child.ts';
import type { Children } from './children.ts';
import type { SupervisorHooks } from './types.ts';

/** A connection a child sent back, as the balancer takes it: a socket that has read nothing. */
function pausedSocket(client: ClientHandle): net.Socket {
  return new net.Socket({ handle: client, pauseOnCreate: true, readable: true, writable: true } as unknown as net.SocketConstructorOpts);
}

/** Takes the connection of a paused socket that has read nothing, leaving the socket empty. */
function takeHandle(socket: net.Socket): ClientHandle | undefined {
  if (socket.destroyed || socket.bytesRead > 0) return undefined;
  return detachHandle(socket);
}

/** What the sockets ask of the supervisor. */
export interface SocketsOwner {
  /** `drover drain` is in force: the supervisor keeps answering new connections itself. */
  draining(): boolean;
  /** A child accepts from the shared socket, and the supervisor no longer does. */
  steppedAside(): void;
}

export class SupervisorSockets {
  readonly balancer: Balancer;
  /** Keep-alive connections children gave back between requests (balancer.rebind_idle_after). */
  readonly idle: IdleConnections;
  private publicSocket?: PublicSocket;
  /** A child was asked for a copy of the socket, so that the supervisor can stop accepting. */
  private borrowing = false;
  /** drover stops: no socket is accepted or kept any more. */
  private closed = false;
  private readonly children: Children;
  private readonly log: Logger;
  private readonly owner: SocketsOwner;

  constructor(config: Config, children: Children, log: Logger, owner: SocketsOwner) {
    this.children = children;
    this.log = log;
    this.owner = owner;
    const b = config.balancer;
    this.balancer = new Balancer(() => [...children.values()], {
      queueLimit: b.queue_limit,
      queueTimeoutMs: b.queue_timeout * 1000,
      // A connection that would wait for a full child waits for its first bytes among the idle
      // keep-alive ones, which come back with them (balancer/idle.ts).
      readFirst: (socket) => {
        const handle = takeHandle(socket);
        if (!handle) return false;
        this.idle.hold(handle);
        return true;
      },
    });
    this.idle = new IdleConnections(this.balancer.accept, { keepAliveTimeoutMs: config.server.keep_alive_timeout * 1000 });
  }

  get listener(): PublicSocket | undefined {
    return this.publicSocket;
  }

  /** Opens the public socket; the supervisor accepts from it until a child can. */
  async listen(server: Config['server'], vet: SupervisorHooks['vetAddress']): Promise<PublicSocket> {
    const listener = await PublicSocket.open({ host: server.host, port: server.port, backlog: server.backlog, vet }, this.balancer.accept);
    this.publicSocket = listener;
    this.log.info({ where: listener.address, port: listener.port }, 'listening');
    return listener;
  }

  /** The supervisor accepts from the public socket again (to answer 503 while the node drains or is empty). */
  async acceptHere(): Promise<void> {
    await this.publicSocket?.acceptHere();
  }

  /** Stops accepting and closes every connection held here. */
  close(): void {
    this.closed = true;
    this.publicSocket?.close();
    this.balancer.close();
    this.idle.closeAll();
  }

  /** Answers what a new child says about sockets. */
  wire(child: ChildHandle): void {
    child.on('report', () => {
      this.stepAside(child);
      this.steer();
      this.balancer.dispatch();
    });
    child.on('want-listen', () => this.answerListen(child));
    child.on('lent', (copy?: ListenHandle) => {
      this.borrowing = false;
      if (!copy) return;
      if (this.shouldStepAside()) {
        this.publicSocket!.withdraw(copy);
        this.log.info({ child: child.id }, 'children accept from the shared socket');
        this.owner.steppedAside();
      } else copy.close();
    });
    child.on('back', (client: ClientHandle) => this.balancer.accept(pausedSocket(client)));
    child.on('idle', (client: ClientHandle) => {
      // A stopping node keeps no idle connection. A draining one (drover drain) holds it until
      // its keep-alive timeout, and answers a request on it 503 DRAINING.
      if (this.closed) client.close();
      else this.idle.hold(client);
    });
  }

  /** Sends every ready child the accept limit (balancer/supervisor/steering.ts). */
  steer(): void {
    const steering = this.steering();
    for (const c of this.children.values()) if (c.state === 'ready') c.setLimit(steering);
  }

  private steering(): Steering {
    return acceptLimit([...this.children.values()].map((c) => ({ state: c.state, load: c.load() })));
  }

  /** A child asks for the shared socket: it gets a copy (none while it drains, or once drover stops) and the limit. */
  private answerListen(child: ChildHandle): void {
    if (child.state === 'exited') return;
    const handle = child.state !== 'draining' ? this.publicSocket?.sharedHandle() : undefined;
    const { limit, spread } = this.steering();
    child.giveListen(handle, limit, spread);
  }

  private shouldStepAside(): boolean {
    return !this.owner.draining() && !this.closed && this.publicSocket?.acceptingHere === true;
  }

  /** Once a child accepts from the shared socket, the supervisor stops accepting (see PublicSocket). */
  private stepAside(child: ChildHandle): void {
    if (this.borrowing || child.state !== 'ready' || !child.report?.listening || !this.shouldStepAside()) return;
    this.borrowing = true;
    child.send({ t: 'lend' });
  }
}

import net from 'node:net';
import type { ClientHandle } from './listen.ts';

/**
 * Keep-alive connections a child gave back while idle between requests (see the child's
 * IdleReturn). Each waits here until its next request starts; the first bytes read tell that
 * it has, and the connection goes to the balancer paused, with those bytes, to be placed like
 * a new one. A connection the client closes, or one idle past the keep-alive timeout, is
 * closed here as the child would have closed it.
 */
export class IdleConnections {
  private given = 0;
  private requests = 0;
  private readonly held = new Set<net.Socket>();
  // One read buffer for all: a read is copied out at once and the socket stops reading.
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);
  private readonly onRequest: (socket: net.Socket, head: Buffer) => void;
  private readonly timeoutMs: number;

  constructor(onRequest: (socket: net.Socket, head: Buffer) => void, opts: { keepAliveTimeoutMs: number }) {
    this.onRequest = onRequest;
    this.timeoutMs = opts.keepAliveTimeoutMs;
  }

  /** Connections children gave back, ever. */
  get returned(): number {
    return this.given;
  }

  /** Connections that brought a request and went on to a child. */
  get rebound(): number {
    return this.requests;
  }

  get size(): number {
    return this.held.size;
  }

  hold(client: ClientHandle): void {
    const socket: net.Socket = new net.Socket({
      handle: client,
      readable: true,
      writable: true,
      onread: {
        buffer: this.buffer,
        callback: (n: number, buf: Buffer) => {
          const head = Buffer.from(buf.subarray(0, n));
          this.held.delete(socket);
          this.requests++;
          this.onRequest(socket, head);
          // Stops reading: the rest of the request is for the child.
          return false;
        },
      },
    } as unknown as net.SocketConstructorOpts);
    this.held.add(socket);
    this.given++;
    socket.on('error', () => socket.destroy());
    socket.on('end', () => socket.destroy());
    socket.on('close', () => this.held.delete(socket));
    if (this.timeoutMs > 0) socket.setTimeout(this.timeoutMs, () => socket.destroy());
  }

  /** Closes every connection still waiting for a request (stop, drain: as a child closes idle keep-alive connections). */
  closeAll(): void {
    for (const socket of this.held) socket.destroy();
    this.held.clear();
  }
}

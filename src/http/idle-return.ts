import type { Socket } from 'node:net';
import type { ClientHandle } from '../balancer/listen.ts';

/** The parts of net.Socket that taking its connection away touches (node's own child_process does the same). */
interface Detachable {
  _handle: (ClientHandle & { readStop(): number }) | null;
  destroy(): void;
}

/**
 * Gives keep-alive connections that sit idle back to the supervisor, which waits for the next
 * request on each and hands it, with the bytes read so far, to the least-loaded child.
 *
 * A connection stays with the child that accepted it, so a request arriving on it waits for
 * whatever that child is doing, even while another child is idle: with keep-alive clients and
 * a few CPU-heavy requests, light requests queue behind heavy ones on one child. Returning a
 * connection once it has been idle for `afterMs` binds each request after a pause late, as a
 * new connection is; a busy client (back-to-back requests, as a benchmark or a saturated proxy
 * pool sends) never pauses that long and stays where it is, paying nothing.
 *
 * Only a connection that read nothing since its last answer goes: its next request has not
 * begun, so no byte is left behind in this child's parser.
 */
export class IdleReturn {
  returned = 0;
  private timer?: NodeJS.Timeout;
  private readonly afterMs: number;
  private readonly idle: (before: number) => Iterable<Socket>;
  private readonly give: (client: ClientHandle) => void;

  constructor(afterMs: number, idle: (before: number) => Iterable<Socket>, give: (client: ClientHandle) => void) {
    this.afterMs = afterMs;
    this.idle = idle;
    this.give = give;
  }

  start(): void {
    if (this.afterMs <= 0 || this.timer) return;
    // Checked at half the threshold: a connection goes after between 1× and 1.5× afterMs idle.
    this.timer = setInterval(() => this.sweep(), Math.max(1, this.afterMs / 2));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sweep(): void {
    const idle = [...this.idle(performance.now() - this.afterMs)];
    for (const socket of idle) this.detach(socket as unknown as Detachable);
  }

  private detach(socket: Detachable): void {
    const handle = socket._handle;
    if (!handle) return;
    // Stop reading before anything else: bytes that arrive from now on stay in the kernel for
    // the supervisor's copy. Then the socket lets go of the handle (so destroying it does not
    // close the connection) and its close frees the HTTP parser and the load count.
    handle.readStop();
    socket._handle = null;
    socket.destroy();
    this.returned++;
    this.give(handle);
  }
}

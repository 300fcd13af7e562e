import net from 'node:net';
import type { ClientHandle, ListenHandle } from '../../ipc/handles.ts';
import { NO_LIMIT } from '../../ipc/messages.ts';

const BURST_MIN = 2;
const BURST_SHARE = 0.1;
/** A connection younger than this is not moved again: it was just placed. */
export const MOVE_MIN_AGE_MS = 1000;

export interface DirectAcceptOptions {
  backlog: number;
  /** The child's load now (open connections + in-flight requests): what the supervisor steers by. */
  load(): number;
  /** Requests being answered now (streams left out): a child at its target takes no more. */
  busy(): number;
  /** Serves a connection this child keeps. */
  serve(socket: net.Socket): void;
  /** Sends a connection this child will not serve back to the supervisor. */
  forward(client: ClientHandle): void;
  /** Asks the supervisor for the listening socket again. */
  askListen(): void;
  /** listen() on the copy failed (libuv's negative errno): the child takes connections only from the supervisor. */
  listenFailed(errno: number): void;
}

/**
 * A child accepting straight from the public socket, which every ready child shares: the
 * kernel gives each connection to whichever child calls accept() first, so a child whose event
 * loop is busy takes none, and no process sits between client and child (the supervisor's
 * handoff costs a round trip per connection).
 *
 * The supervisor steers by load with one number, the limit: a child takes connections while
 * its load is under it (NO_LIMIT while the loads are close). At the limit the child sends the
 * connection it just took back to the supervisor, which places it on the least-loaded child,
 * closes its copy of the socket, so the kernel gives the next connections to the others, and
 * asks for the socket again once its load is back under the limit. A child whose requests
 * being answered (busy) reach its target sends new connections back too, to wait in the
 * supervisor's queue, but keeps its copy: it is full, not steered away.
 *
 * A burst of connections lands on whichever child wakes first, faster than any report reaches
 * the supervisor. So while other children accept too (`spread`), a child lets its load grow by
 * at most BURST_SHARE of it (at least BURST_MIN) between two of its reports, and sends the rest
 * back to be placed by load. Churning short connections do not grow the load, and keep-alive
 * clients open few; neither is sent back.
 *
 * Connections already open move too. A keep-alive client (a proxy's pool, an SDK's agent)
 * never reconnects by itself, so a child added later would get none of its connections. While
 * this child is over its limit, it closes a connection after the answer to a request that
 * starts on it (`Connection: close`), at most as many between two reports as a burst may add,
 * and the client's next request opens a connection that the limit steers elsewhere. With loads
 * close (no limit) nothing moves, so a steady pool costs no reconnects.
 */
export class DirectAccept {
  /** Connections accepted here, and those sent back to the supervisor. */
  accepted = 0;
  forwarded = 0;
  /** Keep-alive connections closed after an answer to move them to a less loaded child. */
  moved = 0;
  private movedSinceReport = 0;
  private listener?: ListenHandle;
  private asked = false;
  private stopped = false;
  /** The supervisor had no socket to give (this child drains, or drover stops): it asks no more. */
  private unshared = false;
  private limit: number;
  private spread = false;
  /** Load at the last report, and how much it may grow before the next. */
  private reportedLoad = 0;
  private growth = BURST_MIN;
  private readonly target: number;
  private readonly opts: DirectAcceptOptions;

  constructor(target: number, opts: DirectAcceptOptions) {
    this.target = target;
    this.limit = NO_LIMIT;
    this.opts = opts;
  }

  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** This child's copy of the listening socket, if it has one. */
  get handle(): ListenHandle | undefined {
    return this.listener;
  }

  /** The supervisor's answer to askListen(): the socket (none while this child drains, or once drover stops) and the limit. */
  listen(handle: ListenHandle | undefined, limit: number, spread: boolean): void {
    this.asked = false;
    this.limit = limit;
    this.spread = spread;
    if (!handle) {
      this.unshared = true;
      return;
    }
    if (this.stopped || this.listener) {
      handle.close();
      return;
    }
    handle.onconnection = (status, client) => this.onConnection(status, client);
    const err = handle.listen(this.opts.backlog);
    if (err !== 0) {
      handle.close();
      this.opts.listenFailed(err);
      return;
    }
    this.listener = handle;
  }

  setLimit(limit: number, spread: boolean): void {
    this.limit = limit;
    this.spread = spread;
    this.loadChanged();
  }

  /** The child just reported `load` to the supervisor. */
  reported(load: number): void {
    this.reportedLoad = load;
    this.growth = Math.max(BURST_MIN, Math.ceil(load * BURST_SHARE));
    this.movedSinceReport = 0;
  }

  /**
   * Whether the connection of a request starting now should close after its answer so that
   * its client reconnects elsewhere; `load` counts that request, `age` is the connection's (ms).
   */
  moveConnection(load: number, age: number): boolean {
    if (!shouldMove({ limit: this.limit, spread: this.spread, load, age, moved: this.movedSinceReport, budget: this.growth })) return false;
    this.movedSinceReport++;
    this.moved++;
    return true;
  }

  /** Called when the load may have dropped: back under the limit, a closed child asks for the socket. */
  loadChanged(): void {
    if (this.stopped || this.unshared || this.listener || this.asked) return;
    if (this.opts.load() < this.limit) {
      this.asked = true;
      this.opts.askListen();
    }
  }

  /** Closes this child's copy of the socket for good (draining, stopping). */
  stop(): void {
    this.stopped = true;
    this.close();
  }

  private close(): void {
    const l = this.listener;
    this.listener = undefined;
    if (l) {
      l.onconnection = null;
      l.close();
    }
  }

  private onConnection(status: number, client?: ClientHandle): void {
    if (status !== 0 || !client) return;
    this.accepted++;
    const load = this.opts.load();
    if (this.spread && load - this.reportedLoad >= this.growth) {
      this.forwarded++;
      this.opts.forward(client);
      return;
    }
    if (this.stopped || load >= this.limit) {
      this.forwarded++;
      this.close();
      this.opts.forward(client);
      return;
    }
    if (this.opts.busy() >= this.target) {
      // Full: the socket stays open and the overflow goes to the supervisor's queue through this child.
      this.forwarded++;
      this.opts.forward(client);
      return;
    }
    // What net.Server does with a connection it accepts (http.Server defaults noDelay to true).
    client.setNoDelay?.(true);
    this.opts.serve(new net.Socket({ handle: client, readable: true, writable: true } as unknown as net.SocketConstructorOpts));
  }
}

export interface MoveState {
  /** The accept limit (NO_LIMIT while loads are close) and whether other children accept. */
  limit: number;
  spread: boolean;
  load: number;
  /** How long the connection has been open, ms. */
  age: number;
  /** Connections moved since the last report, and how many may be. */
  moved: number;
  budget: number;
}

/** A child over its limit moves a connection it has held a while, up to its budget per report. */
export function shouldMove(s: MoveState): boolean {
  return s.limit !== NO_LIMIT && s.spread && s.load > s.limit && s.age >= MOVE_MIN_AGE_MS && s.moved < s.budget;
}

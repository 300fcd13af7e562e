import net from 'node:net';
import type { ClientHandle, ListenHandle } from '../../ipc/handles.ts';

export { detachHandle, type ClientHandle, type ListenHandle } from '../../ipc/handles.ts';

/** systemd passes activated sockets from fd 3 on (sd_listen_fds(3)). */
const SD_LISTEN_FDS_START = 3;

export class ListenError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The fd systemd handed us, if the variables are meant for this process; they are then cleared so children never see them. */
export function takeActivatedFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const pid = env.LISTEN_PID;
  const fds = Number(env.LISTEN_FDS ?? 0);
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (pid !== String(process.pid) || !(fds >= 1)) return undefined;
  return SD_LISTEN_FDS_START;
}

const reasons: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
};

function listenError(code: string, where: string, fallback = code): ListenError {
  return new ListenError(code, `cannot listen on ${where}: ${reasons[code] ?? fallback}`);
}

/**
 * The public socket. Two ways to take connections from it:
 *  - the supervisor accepts (`acceptingHere`): every connection arrives here paused and is
 *    handed to a child over IPC. That is how it starts, and how a draining node (or one
 *    scaled to no child) answers 503 itself;
 *  - children accept directly: each ready child listens on its own copy of the socket
 *    (`sharedHandle`, sent over IPC; what node:cluster calls SCHED_NONE, and what gunicorn's
 *    workers do) and the supervisor steers them by load. A process that polls a listening
 *    socket competes for every connection, and Node cannot stop polling one without closing
 *    it; so the supervisor steps aside (`withdraw`) by taking a copy back from a child that
 *    listens and closing its own. The socket never stops listening, whoever holds it: the
 *    kernel queues connections while nobody accepts.
 */
export class PublicSocket {
  readonly where: string;
  readonly activated: boolean;
  port?: number;
  /** The socket's own address (getsockname), whoever bound it: host and port, or a unix path. */
  bound?: net.AddressInfo | string;
  private handle?: ListenHandle;
  private server?: net.Server;
  private readonly onConnection: (socket: net.Socket) => void;
  private readonly backlog: number;

  private constructor(where: string, activated: boolean, backlog: number, onConnection: (socket: net.Socket) => void) {
    this.where = where;
    this.activated = activated;
    this.backlog = backlog;
    this.onConnection = onConnection;
  }

  /**
   * Listens (or takes systemd's socket); the supervisor accepts every connection until it
   * withdraws. `vet` judges the address the socket is really bound to before any connection is
   * served (it runs before the event loop polls the socket); when it throws, the socket closes.
   */
  static async open(
    opts: { host: string; port: number; backlog: number; vet?: (bound: net.AddressInfo | string, where: string) => void },
    onConnection: (socket: net.Socket) => void,
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<PublicSocket> {
    const fd = takeActivatedFd(env);
    const s = new PublicSocket(fd !== undefined ? `fd ${fd} (systemd)` : `${opts.host}:${opts.port}`, fd !== undefined, opts.backlog, onConnection);
    await s.listen(fd !== undefined ? { fd, backlog: opts.backlog } : { host: opts.host, port: opts.port, backlog: opts.backlog });
    try {
      opts.vet?.(s.bound!, s.where);
    } catch (err) {
      s.close();
      throw err;
    }
    return s;
  }

  get acceptingHere(): boolean {
    return this.server !== undefined;
  }

  /** "host:port" as bound (the real port when 0 was asked), or the systemd fd. */
  get address(): string {
    return this.activated ? this.where : this.where.replace(/:\d+$/, `:${this.port}`);
  }

  /** The socket to send to a child (sending copies it; this process keeps its own). */
  sharedHandle(): ListenHandle | undefined {
    return this.handle;
  }

  /** The supervisor accepts every connection again (a draining node answers them itself). */
  acceptHere(): Promise<void> {
    if (this.server || !this.handle) return Promise.resolve();
    return this.listen({ handle: this.handle, backlog: this.backlog });
  }

  /**
   * Stops accepting here: `copy` (a child's copy of the socket) becomes the one the supervisor
   * keeps, unpolled, and its own listening handle closes. Connections it already accepted live on.
   */
  withdraw(copy: ListenHandle): void {
    const server = this.server;
    if (!server) {
      copy.close();
      return;
    }
    this.server = undefined;
    this.handle = copy;
    server.close();
  }

  close(): void {
    if (this.server) this.server.close();
    else this.handle?.close();
    this.server = undefined;
    this.handle = undefined;
  }

  private listen(options: { host?: string; port?: number; fd?: number; handle?: ListenHandle; backlog: number }): Promise<void> {
    const server = net.createServer({ pauseOnConnect: true }, this.onConnection);
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err.code ?? 'LISTEN_FAILED', this.where, err.message)));
      server.listen(options as unknown as net.ListenOptions, () => {
        const addr = server.address();
        if (addr) this.bound = addr;
        if (typeof addr === 'object' && addr) this.port = addr.port;
        this.server = server;
        this.handle = (server as unknown as { _handle: ListenHandle })._handle;
        resolve();
      });
    });
  }
}

import net from 'node:net';

/** systemd passes activated sockets from fd 3 on (sd_listen_fds(3)). */
const SD_LISTEN_FDS_START = 3;

export class ListenError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface Listener {
  server: net.Server;
  /** "host:port" or "fd 3 (systemd)". */
  where: string;
  port?: number;
  activated: boolean;
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

/**
 * Opens the public socket. Connections arrive paused: the supervisor never reads a byte, it
 * only hands the socket to a child, which resumes it.
 */
export function openListener(
  opts: { host: string; port: number; backlog: number },
  onConnection: (socket: net.Socket) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Listener> {
  const fd = takeActivatedFd(env);
  const server = net.createServer({ pauseOnConnect: true }, onConnection);
  const where = fd !== undefined ? `fd ${fd} (systemd)` : `${opts.host}:${opts.port}`;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = reasons[err.code ?? ''] ?? err.message;
      reject(new ListenError(err.code ?? 'LISTEN_FAILED', `cannot listen on ${where}: ${why}`));
    });
    const done = () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : undefined;
      resolve({ server, where: fd !== undefined ? where : `${opts.host}:${port}`, port, activated: fd !== undefined });
    };
    if (fd !== undefined) server.listen({ fd }, done);
    else server.listen({ host: opts.host, port: opts.port, backlog: opts.backlog }, done);
  });
}

import net from 'node:net';
import { lstatSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/schema.ts';
import { controlSocketPath, type ControlReply, type ControlRequest } from '../supervisor/control.ts';
import { runtimeDirCandidates, UnsafePathError, untrustedSocketReason } from '../config/paths.ts';

export class NotRunningError extends Error {
  readonly code = 'NOT_RUNNING';
}

/** The path's stat, or why there is none (ENOENT, EACCES, …). */
function lstat(path: string): Stats | string {
  try {
    return lstatSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'ENOENT';
  }
}

/**
 * The control socket of the supervisor this config describes: the first of the runtime
 * directories `start` may have used (its own, then the systemd service's) that holds one. It
 * must be one a supervisor we trust made (see untrustedSocketReason), else this throws: a
 * command sent to someone else's socket would report "ok" for a node it never reached.
 */
export function findControlSocket(config: Config, env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid!()): string {
  const dirs = runtimeDirCandidates(config, env);
  const denied: string[] = [];
  for (const dir of dirs) {
    const path = controlSocketPath(dir);
    const socket = lstat(path);
    if (socket === 'EACCES') denied.push(dir);
    if (typeof socket === 'string') continue;
    const problem = untrustedSocketReason(lstatSync(dir), statSync(dirname(dir)), socket, uid);
    if (problem) throw new UnsafePathError(`refusing the control socket ${path}: ${problem}; another user may have put it there`);
    return path;
  }
  // The service's directory is its user's alone: say so rather than "not running".
  if (denied.length > 0) throw new Error(`cannot look into ${denied.join(', ')}: permission denied (run as root, or as the user drover runs as)`);
  return controlSocketPath(dirs[0]!);
}

/** Sends one request to the running supervisor; calls `onProgress` for each progress line; resolves with the result. */
export function control(path: string, req: ControlRequest, onProgress: (r: ControlReply & { type: 'progress' }) => void = () => {}): Promise<ControlReply & { type: 'result' }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let buf = '';
    let result: (ControlReply & { type: 'result' }) | undefined;
    socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new NotRunningError(`no drover is running (no control socket at ${path})`));
      else reject(err);
    });
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const reply = JSON.parse(buf.slice(0, nl)) as ControlReply;
        buf = buf.slice(nl + 1);
        if (reply.type === 'progress') onProgress(reply);
        else result = reply;
      }
    });
    socket.on('close', () => (result ? resolve(result) : reject(new Error('the supervisor closed the control connection without an answer'))));
  });
}

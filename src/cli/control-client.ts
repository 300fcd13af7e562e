import net from 'node:net';
import type { ControlReply, ControlRequest } from '../supervisor/control.ts';

export class NotRunningError extends Error {
  readonly code = 'NOT_RUNNING';
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

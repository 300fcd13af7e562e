import net from 'node:net';
import { chmodSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { ensurePrivateDir } from '../config/paths.ts';
import { snapshot } from './status.ts';
import type { Monitor } from '../admin/monitor.ts';
import type { FleetListing } from '../fleet/registry.ts';
import type { Supervisor } from './supervisor.ts';

export const CONTROL_SOCKET = 'drover.sock';

/** What the CLI asks the running supervisor, one JSON line per connection. */
export type ControlRequest =
  | { cmd: 'status' }
  /** Every node of the fleet, from the registry (`drover status --fleet`). */
  | { cmd: 'fleet' }
  /** The status page's view (snapshot and history), for `drover top`. */
  | { cmd: 'view'; since?: number }
  | { cmd: 'reload' }
  | { cmd: 'scale'; to: number | 'auto'; relative?: boolean; force?: boolean }
  | { cmd: 'drain' }
  | { cmd: 'stop' };

/** What it answers: progress lines as things happen, then one result line. */
export type ControlReply =
  | { type: 'progress'; message: string; [k: string]: unknown }
  | { type: 'result'; ok: boolean; error?: string; [k: string]: unknown };

export function controlSocketPath(runtimeDir: string): string {
  return join(runtimeDir, CONTROL_SOCKET);
}

/** Refuses to start a second supervisor on the same runtime directory; removes a stale socket. */
async function claimPath(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(path, () => (c.destroy(), resolve(true)));
    c.on('error', () => resolve(false));
  });
  if (alive) throw Object.assign(new Error(`another drover is running (control socket ${path} answers)`), { code: 'ALREADY_RUNNING' });
  try {
    unlinkSync(path);
  } catch {
    // nothing to remove
  }
}

export class ControlServer {
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  readonly path: string;

  private constructor(server: net.Server, path: string) {
    this.server = server;
    this.path = path;
  }

  static async start(sup: Supervisor, monitor: Monitor, fleet: () => Promise<FleetListing>, runtimeDir: string, log: Logger, onStop: () => Promise<number>): Promise<ControlServer> {
    // A directory another user can write to lets them swap this socket for their own.
    ensurePrivateDir(runtimeDir, 'runtime');
    const path = controlSocketPath(runtimeDir);
    await claimPath(path);
    const server = net.createServer((socket) => {
      control.open.add(socket);
      socket.on('close', () => control.open.delete(socket)).on('error', () => {});
      let buf = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        socket.removeAllListeners('data');
        void handle(sup, monitor, fleet, buf.slice(0, nl), (reply) => socket.write(`${JSON.stringify(reply)}\n`), onStop, log).finally(() => socket.end());
      });
    });
    const control = new ControlServer(server, path);
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
    chmodSync(path, 0o600);
    log.info({ path }, 'control socket listening');
    return control;
  }

  /** Stops listening; waits briefly for answers still being written. */
  async close(): Promise<void> {
    this.server.close();
    const deadline = Date.now() + 2000;
    while (this.open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

async function handle(sup: Supervisor, monitor: Monitor, fleet: () => Promise<FleetListing>, line: string, reply: (r: ControlReply) => void, onStop: () => Promise<number>, log: Logger): Promise<void> {
  let req: ControlRequest;
  try {
    req = JSON.parse(line) as ControlRequest;
  } catch {
    return reply({ type: 'result', ok: false, error: 'bad request: not JSON' });
  }
  // `drover top` asks for a view every second: that is not worth a line each time.
  log[req.cmd === 'view' ? 'debug' : 'info']({ cmd: req.cmd }, 'control command');
  const progress = (message: string, extra: Record<string, unknown> = {}) => reply({ type: 'progress', message, ...extra });
  switch (req.cmd) {
    case 'status':
      return reply({ type: 'result', ok: true, status: snapshot(sup) });
    case 'view':
      return reply({ type: 'result', ok: true, view: monitor.view(req.since) });
    case 'fleet':
      try {
        return reply({ type: 'result', ok: true, fleet: await fleet() });
      } catch (err) {
        return reply({ type: 'result', ok: false, error: `cannot read the fleet registry: ${(err as Error).message}` });
      }
    case 'reload': {
      const onStep = (s: { step: number; total: number; oldPid?: number; newPid?: number }) =>
        progress(`child ${s.step}/${s.total}: pid ${s.oldPid} replaced by pid ${s.newPid}`, s);
      sup.on('reload-step', onStep);
      try {
        const r = await sup.reload();
        return reply({ type: 'result', ...r });
      } finally {
        sup.off('reload-step', onStep);
      }
    }
    case 'scale': {
      if (req.to === 'auto') {
        sup.resumeAutoscale();
        return reply({ type: 'result', ok: true, desired: sup.desired, autoscale: true });
      }
      const n = req.relative ? sup.desired + req.to : req.to;
      if (!Number.isInteger(n) || n < 0 || n > 256) return reply({ type: 'result', ok: false, error: `cannot scale to ${n}: expected 0..256 children` });
      const refused = sup.scaleRefusal(n, req.force === true);
      if (refused) return reply({ type: 'result', ok: false, error: refused });
      sup.pin(n);
      // "ok" means the children are there: new ones get their ready_timeout to boot.
      const waitS = sup.config.supervisor.ready_timeout + 1;
      const r = await sup.settled(waitS * 1000);
      const error = r.ok ? undefined : `${r.ready} of ${n} children ready after ${waitS}s (still trying; see drover status)`;
      return reply({ type: 'result', ok: r.ok, desired: sup.desired, ready: r.ready, autoscale: false, ...(error && { error }) });
    }
    case 'drain': {
      const onExit = (c: { id: number; pid?: number; left: number }) => progress(`child ${c.id} (pid ${c.pid}) drained; ${c.left} left`, c);
      sup.on('child-drained', onExit);
      try {
        await sup.drain();
        return reply({ type: 'result', ok: true });
      } finally {
        sup.off('child-drained', onExit);
      }
    }
    case 'stop': {
      const onExit = (c: { id: number; pid?: number; left: number }) => progress(`child ${c.id} (pid ${c.pid}) stopped; ${c.left} left`, c);
      sup.on('child-drained', onExit);
      const code = await onStop();
      return reply({ type: 'result', ok: code === 0, code });
    }
    default:
      return reply({ type: 'result', ok: false, error: `unknown command ${JSON.stringify((req as { cmd: unknown }).cmd)}` });
  }
}

import { execFile } from 'node:child_process';
import type { Logger } from '../log.ts';

/**
 * sd_notify(3) for the supervisor. Node cannot send on a unix datagram socket, so messages go
 * through the `systemd-notify` binary; the unit therefore says NotifyAccess=all (the sender is
 * a short-lived child). systemd ≥ 246 makes systemd-notify wait until PID 1 has read the
 * message, which closed the old race. Without NOTIFY_SOCKET every call is a no-op.
 */
export class Notifier {
  private readonly enabled: boolean;
  private watchdog?: NodeJS.Timeout;
  // One systemd-notify at a time, so READY=1 can never overtake the RELOADING=1 before it.
  private queue: Promise<void> = Promise.resolve();

  private readonly log: Logger;
  private readonly env: NodeJS.ProcessEnv;

  constructor(log: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.log = log;
    this.env = env;
    this.enabled = Boolean(env.NOTIFY_SOCKET);
  }

  notify(fields: Record<string, string | number>): void {
    if (!this.enabled) return;
    const args = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
    this.queue = this.queue.then(() => new Promise<void>((resolve) => {
      execFile('systemd-notify', args, { env: this.env, timeout: 10_000 }, (err) => {
        if (err) this.log.warn({ err: err.message, args }, 'systemd-notify failed');
        resolve();
      });
    }));
  }

  ready(status: string): void {
    this.notify({ READY: 1, STATUS: status });
  }

  reloading(): void {
    this.notify({ RELOADING: 1, MONOTONIC_USEC: (process.hrtime.bigint() / 1000n).toString() });
  }

  stopping(status: string): void {
    this.notify({ STOPPING: 1, STATUS: status });
  }

  status(status: string): void {
    this.notify({ STATUS: status });
  }

  /** Pings the watchdog at half its interval while `healthy()` says so. */
  startWatchdog(healthy: () => boolean): void {
    const usec = Number(this.env.WATCHDOG_USEC ?? 0);
    const pid = this.env.WATCHDOG_PID;
    if (!this.enabled || !(usec > 0) || (pid && pid !== String(process.pid))) return;
    this.watchdog = setInterval(() => {
      if (healthy()) this.notify({ WATCHDOG: 1 });
    }, Math.max(100, usec / 2000));
    this.watchdog.unref();
  }

  stopWatchdog(): void {
    clearInterval(this.watchdog);
  }
}

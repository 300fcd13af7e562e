import { pino, type Logger } from 'pino';

export type { Logger };

/** One logger per process: JSON lines on stdout (journald keeps them), tagged with pid and role. */
export function createLogger(fields: { role: 'supervisor' | 'child' | 'cli'; child?: number }, level = 'info'): Logger {
  return pino(
    { level, base: { pid: process.pid, ...fields }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 1, sync: true }),
  );
}

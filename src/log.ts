import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** `log.format` as configured; `auto` is resolved once, by the supervisor, before it forks. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * `auto`: pretty for a person at a terminal, JSON lines where a machine reads them (journald,
 * a pipe, a file). Children inherit the supervisor's stdout, so its answer holds for them.
 */
export function resolveLogFormat(format: LogFormat, stdout: { isTTY?: boolean } = process.stdout): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return stdout.isTTY ? 'pretty' : 'json';
}

/** One logger per process: lines on stdout, tagged with pid and role; JSON unless `pretty`. */
export function createLogger(fields: { role: 'supervisor' | 'child' | 'cli' | 'haproxy-sync'; child?: number }, level = 'info', format: LogFormat = 'json'): Logger {
  const options = { level, base: { pid: process.pid, ...fields }, timestamp: pino.stdTimeFunctions.isoTime };
  if (resolveLogFormat(format) === 'pretty') {
    // One line per event, as in the JSON form: `[12:00:01.234] INFO (4242): supervisor: child ready {"child":3,"bootMs":310}`.
    const stream = pretty({
      destination: 1,
      sync: true,
      colorize: Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      singleLine: true,
      messageFormat: '{role}: {msg}',
      ignore: 'hostname,role',
    });
    return pino(options, stream);
  }
  return pino(options, pino.destination({ fd: 1, sync: true }));
}

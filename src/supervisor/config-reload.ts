// Whether a reload takes the configuration as it reads now. An invalid one is refused and the
// running one stays; the listening address and backlog cannot change without a restart (the
// socket stays open across reloads), so a change to them is taken but warned about.
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';

/** Keys whose change waits for the next restart. */
const RESTART_ONLY = ['host', 'port', 'backlog'] as const;

/** The configuration `reread` returns, or why it was refused. */
export function rereadConfig(reread: () => Config, running: Config, log: Logger): { config: Config } | { error: string } {
  let next: Config;
  try {
    next = reread();
  } catch (err) {
    log.error({ error: (err as Error).message }, 'reload refused: invalid config; the running config stays');
    return { error: `invalid config: ${(err as Error).message}` };
  }
  const needRestart = RESTART_ONLY.filter((k) => next.server[k] !== running.server[k]).map((k) => `server.${k}`);
  if (needRestart.length) log.warn({ keys: needRestart }, 'these settings take effect at the next restart, not on reload');
  log.info('config reloaded');
  return { config: next };
}

// Opens the store the configuration names. Callers see only the Store contract; the backend
// behind it is chosen here and nowhere else.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { StoreError } from './errors.ts';
import { openSqliteStore } from './sqlite/index.ts';
import type { Clock, Store } from './types.ts';

export * from './types.ts';
export { StoreError, isStoreError, type StoreErrorCode } from './errors.ts';

export type StoreConfig = Omit<Config['store'], 'discard_orphaned_wal'> & {
  discard_orphaned_wal?: boolean;
  stateDir: string;
  clock?: Clock;
  /** The supervisor's open, before it forks: refuse a damaged file (SQLite quick_check). */
  checkIntegrity?: boolean;
  warn?: (message: string) => void;
};

export async function openStore(config: StoreConfig): Promise<Store> {
  const common = {
    queueLimit: config.queue_limit,
    resultTtlMs: config.result_ttl * 1000,
    sessionTtlMs: config.session_ttl * 1000,
    ...(config.clock && { clock: config.clock }),
  };
  switch (config.backend) {
    case 'sqlite': {
      if (!config.path && !config.stateDir) throw new StoreError('INVALID_ARGUMENT', 'store needs a path or a state directory');
      const path = config.path || join(config.stateDir, 'drover.db');
      if (!config.path) mkdirSync(config.stateDir, { recursive: true });
      return openSqliteStore({
        ...common, path, checkIntegrity: config.checkIntegrity ?? false, discardOrphanedWal: config.discard_orphaned_wal ?? false,
        ...(config.warn && { warn: config.warn }),
      });
    }
    default:
      throw new StoreError('UNKNOWN_BACKEND', `unknown store backend ${JSON.stringify(config.backend)}`);
  }
}

// Opens the store the configuration names. Callers see only the Store contract; the backend
// behind it is chosen here and nowhere else.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { StoreError } from './errors.ts';
import type { Logger } from '../log.ts';
import { openSqliteStore } from './sqlite/index.ts';
import { openThreadedSqliteStore, storeThreadAvailable } from './sqlite/threaded.ts';
import type { Clock, Store } from './types.ts';

export * from './types.ts';
export { StoreError, isStoreError, type StoreErrorCode } from './errors.ts';

type RedisKeys = 'url' | 'prefix' | 'password_env' | 'sentinel_password_env' | 'sentinels' | 'sentinel_name' | 'cluster_nodes' | 'tls';
/** `log`: where a backend reports what it found at open (the supervisor passes one; children
 * open quietly). `env`: where password_env and sentinel_password_env are looked up. */
export type StoreConfig = Omit<Config['store'], RedisKeys | 'discard_orphaned_wal'> & Partial<Pick<Config['store'], RedisKeys | 'discard_orphaned_wal'>> & {
  stateDir: string; clock?: Clock; log?: Logger; env?: NodeJS.ProcessEnv;
  /** The supervisor's open, before it forks: refuse a damaged file (SQLite quick_check). */
  checkIntegrity?: boolean;
  /** SQLite: write on this thread instead of a store thread (default: with checkIntegrity,
   * the supervisor's open, which writes little and must not wait on a thread's start). */
  inThread?: boolean;
  /** SQLite: the store thread's module, where it is not beside threaded.ts (the single binary). */
  threadFile?: string;
  /** SQLite: how much the store thread lowers its CPU priority below the caller's event loop (a nice increment). */
  threadNice?: number;
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
      const options = {
        ...common, path, checkIntegrity: config.checkIntegrity ?? false, discardOrphanedWal: config.discard_orphaned_wal ?? false,
        ...(config.warn && { warn: config.warn }),
        ...(config.threadFile && { threadFile: config.threadFile }),
        ...(config.threadNice && { threadNice: config.threadNice }),
      };
      // A child's writes go to a thread of its own, so its event loop never waits on the
      // write lock the children share (sqlite/threaded.ts).
      const inThread = config.inThread ?? config.checkIntegrity ?? false;
      return inThread || !storeThreadAvailable(config.threadFile) ? openSqliteStore(options) : openThreadedSqliteStore(options);
    }
    case 'redis': {
      // Loaded only for a Redis store: ioredis and the scripts are a tenth of a second of every
      // child's start on the embedded store.
      const [{ redisPasswords, redisTopology }, { openRedisStore }] = await Promise.all([import('./redis/connect.ts'), import('./redis/index.ts')]);
      const passwords = redisPasswords(config, config.env ?? process.env);
      const topology = redisTopology(config);
      if (!config.url && !topology.sentinels?.length && !topology.clusterNodes?.length) {
        throw new StoreError('INVALID_ARGUMENT', 'store.backend = "redis" needs store.url, store.sentinels or store.cluster_nodes');
      }
      return openRedisStore({
        ...common, url: config.url ?? '', topology, ...(config.prefix && { prefix: config.prefix }),
        ...passwords,
        ...(config.log && { log: config.log }),
      });
    }
    default:
      throw new StoreError('UNKNOWN_BACKEND', `unknown store backend ${JSON.stringify(config.backend)}`);
  }
}

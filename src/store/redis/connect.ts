// The one place a Redis connection is made, for the store and the fleet registry alike: one
// Redis at a URL, a master found through Sentinel, or a Cluster. The rest of the backend
// speaks to the client ioredis returns without knowing which.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from '../../config/schema.ts';
import { StoreError } from '../errors.ts';

export interface RedisTopology {
  /** Sentinels as host:port; the master is asked of them by `sentinelName`. */
  sentinels?: readonly string[];
  sentinelName?: string;
  /** Cluster seed nodes as host:port; the rest of the cluster is discovered from them. */
  clusterNodes?: readonly string[];
  /** TLS to every node (a rediss:// URL says so for one Redis). */
  tls?: boolean;
}

export type RedisClient = Redis | Cluster;

/** host:port (IPv6 as [addr]:port) into ioredis' node form; the port defaults to `port`. */
export function hostPort(text: string, port: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new Error(`expected host:port, got ${JSON.stringify(text)}`);
  return { host: m[1]!, port: m[2] === undefined ? port : Number(m[2]) };
}

/** Where the client connects, for messages: never the password. */
export function describeRedis(url: string, topology: RedisTopology = {}): string {
  if (topology.clusterNodes?.length) return `redis cluster ${topology.clusterNodes.join(',')}`;
  if (topology.sentinels?.length) return `redis master "${topology.sentinelName ?? 'mymaster'}" of sentinels ${topology.sentinels.join(',')}`;
  return `redis at ${redactUrl(url)}`;
}

/** The url without its password, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

/**
 * A client for `url` or the topology. `options` are per-connection options (lazyConnect,
 * offline queue, retries, password); for a Cluster they apply to every node's connection and
 * the cluster-wide ones are taken from them too.
 */
export function createRedis(url: string, topology: RedisTopology, options: RedisOptions): RedisClient {
  const tls = topology.tls ? { tls: {} } : {};
  if (topology.clusterNodes?.length) {
    const { lazyConnect, enableOfflineQueue, enableAutoPipelining, ...redisOptions } = options;
    const clusterOptions: ClusterOptions = {
      redisOptions: { ...redisOptions, ...tls },
      ...(lazyConnect !== undefined && { lazyConnect }),
      ...(enableOfflineQueue !== undefined && { enableOfflineQueue }),
      ...(enableAutoPipelining !== undefined && { enableAutoPipelining }),
      // Every command of the store goes to the master that owns its slot: replicas lag.
      scaleReads: 'master',
    };
    return new Cluster(topology.clusterNodes.map((n) => hostPort(n, 6379)), clusterOptions);
  }
  if (topology.sentinels?.length) {
    return new Redis({
      ...options,
      ...tls,
      sentinels: topology.sentinels.map((n) => hostPort(n, 26379)),
      name: topology.sentinelName ?? 'mymaster',
      ...(topology.tls && { enableTLSForSentinelMode: true }),
    });
  }
  return new Redis(url, { ...options, ...tls });
}

/** Another connection to the same place (subscribers and blocking reads need their own). */
export function duplicateRedis(client: RedisClient, override: RedisOptions): RedisClient {
  if (client instanceof Cluster) {
    const { lazyConnect, enableOfflineQueue, enableAutoPipelining, ...redisOptions } = override;
    return client.duplicate(undefined, {
      redisOptions: { ...client.options.redisOptions, ...redisOptions },
      ...(lazyConnect !== undefined && { lazyConnect }),
      ...(enableOfflineQueue !== undefined && { enableOfflineQueue }),
      ...(enableAutoPipelining !== undefined && { enableAutoPipelining }),
    });
  }
  return client.duplicate(override);
}

/** The [store] keys that say where a Redis other than one at `url` is. */
export function redisTopology(config: Partial<Pick<Config['store'], 'sentinels' | 'sentinel_name' | 'cluster_nodes' | 'tls'>>): RedisTopology {
  return {
    ...(config.sentinels?.length && { sentinels: config.sentinels, sentinelName: config.sentinel_name ?? 'mymaster' }),
    ...(config.cluster_nodes?.length && { clusterNodes: config.cluster_nodes }),
    ...(config.tls && { tls: true }),
  };
}

/** The passwords a connection needs, as ioredis options. */
export interface RedisPasswords {
  /** The data nodes' (AUTH to the master, the replicas, a cluster's nodes). */
  password?: string;
  /** The sentinels' own (their requirepass), asked only when they are asked for the master. */
  sentinelPassword?: string;
}

/**
 * The passwords [store] names by environment variable. An unset variable is a mistake to
 * report, by its name, not an empty password to try.
 */
export function redisPasswords(config: Partial<Pick<Config['store'], 'password_env' | 'sentinel_password_env'>>, env: NodeJS.ProcessEnv): RedisPasswords {
  const read = (key: 'password_env' | 'sentinel_password_env'): string | undefined => {
    const name = config[key];
    if (!name) return undefined;
    const value = env[name];
    if (value === undefined) throw new StoreError('INVALID_ARGUMENT', `store.${key} names ${name}, which is not set`);
    return value;
  };
  const password = read('password_env');
  const sentinelPassword = read('sentinel_password_env');
  return { ...(password !== undefined && { password }), ...(sentinelPassword !== undefined && { sentinelPassword }) };
}

/** How ioredis' error starts when a round over every sentinel found none to answer. */
const ALL_SENTINELS_FAILED = 'All sentinels are unreachable';

/**
 * Connects a client made by createRedis. Through Sentinel, ioredis retries the sentinels
 * forever and its connect() never settles, so a sentinel that refuses us (a missing or wrong
 * password) would hang the start in silence: the first round in which no sentinel answered
 * fails the connect instead, saying why. Later reconnects still retry for as long as it takes.
 */
export async function connectRedis(client: RedisClient): Promise<void> {
  if (client instanceof Cluster || !client.options.sentinels?.length) return client.connect();
  const passwordGiven = Boolean(client.options.sentinelPassword);
  let onError!: (err: Error) => void;
  const noSentinel = new Promise<never>((_, reject) => {
    onError = (err) => {
      if (err.message.startsWith(ALL_SENTINELS_FAILED)) reject(new Error(sentinelFailure(err.message, passwordGiven), { cause: err }));
    };
  });
  client.on('error', onError);
  try {
    await Promise.race([client.connect(), noSentinel]);
  } finally {
    client.off('error', onError);
  }
}

/** ioredis' "All sentinels are unreachable… Last error: …" as what to do about it. */
export function sentinelFailure(message: string, passwordGiven: boolean): string {
  const last = /Last error: (.*)$/s.exec(message)?.[1] ?? message;
  let hint = '';
  if (/^NOAUTH\b/.test(last) && !passwordGiven) {
    hint = '; the sentinels require a password of their own: set store.sentinel_password_env to the variable holding it';
  } else if (/^(WRONGPASS|ERR invalid password)\b/.test(last) && passwordGiven) {
    hint = '; the sentinels refused the password from store.sentinel_password_env';
  }
  return `no sentinel answered (last error: ${last})${hint}`;
}

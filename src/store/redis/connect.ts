// The one place a Redis connection is made, for the store and the fleet registry alike: one
// Redis at a URL, a master found through Sentinel, or a Cluster. The rest of the backend
// speaks to the client ioredis returns without knowing which.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from '../../config/schema.ts';

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

// The fleet registry: every node writes what it is and how busy it is into the shared store,
// and renews it each heartbeat. An entry not renewed for TTL_BEATS heartbeats has expired (the
// node died); a node that stops removes its own at once. With the SQLite backend a node is a
// fleet of one and the registry holds only itself.
//
// In Redis: a sorted set of node ids scored by when each expires (on Redis' clock, so nodes'
// clocks need not agree) and a hash of each node's JSON; both in the store's hash slot
// (`{prefix}:`), so one script reads and prunes them atomically on Cluster too.
import type { RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.ts';
import { connectRedis, createRedis, describeRedis, redisPasswords, redisTopology, type RedisClient } from '../store/redis/connect.ts';

/** Heartbeats a node may miss before its entry expires. */
export const TTL_BEATS = 3;

/** One node as the registry holds it. */
export interface NodeInfo {
  id: string;
  /** Where other machines reach its public API. */
  address: string;
  port: number;
  /** HAProxy agent-check port (0 = none). */
  agentPort: number;
  version: string;
  /** Ready children. */
  children: number;
  /** The most children this node may run (autoscale.max_children or its sizing). */
  maxChildren: number;
  /** Task slots of its ready children. */
  slots: number;
  /** Agent tasks running on it. */
  running: number;
  /** HTTP requests in flight on it. */
  inflight: number;
  /** running / slots (0 when it has no slots). */
  load: number;
  draining: boolean;
  /** ISO time the node's supervisor started. */
  startedAt: string;
}

/** A node with how long ago it was last heard from (on the store's clock). */
export interface RegisteredNode extends NodeInfo {
  ageS: number;
}

export interface Registry {
  /** True when other nodes can see this registry (Redis); false for a node alone (SQLite). */
  readonly shared: boolean;
  beat(info: NodeInfo, ttlMs: number): Promise<void>;
  leave(id: string): Promise<void>;
  /** Every live node, sorted by id. */
  nodes(): Promise<RegisteredNode[]>;
  close(): Promise<void>;
}

// Both scripts start here: Redis' clock in ms as `now`, and nodes whose beat expired dropped.
const PRUNE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(dead))
end
`;

// KEYS: expiries (zset), info (hash). ARGV: id, json, ttl ms.
const BEAT = `${PRUNE}redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return now`;

// KEYS: expiries, info. Returns {now, id1, expiry1, json1, id2, …} for live nodes.
const LIST = `${PRUNE}local out = { now }
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #live, 2 do
  local json = redis.call('HGET', KEYS[2], live[i])
  if json then
    out[#out + 1] = live[i]
    out[#out + 1] = live[i + 1]
    out[#out + 1] = json
  end
end
return out`;

const LEAVE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`;

type FleetRedis = RedisClient & {
  fleetBeat(expiries: string, info: string, id: string, json: string, ttlMs: number): Promise<number>;
  fleetList(expiries: string, info: string): Promise<(string | number)[]>;
  fleetLeave(expiries: string, info: string, id: string): Promise<number>;
};

class RedisRegistry implements Registry {
  readonly shared = true;
  private readonly redis: FleetRedis;
  private readonly keys: [string, string];

  constructor(redis: RedisClient, prefix: string) {
    redis.defineCommand('fleetBeat', { numberOfKeys: 2, lua: BEAT });
    redis.defineCommand('fleetList', { numberOfKeys: 2, lua: LIST });
    redis.defineCommand('fleetLeave', { numberOfKeys: 2, lua: LEAVE });
    this.redis = redis as FleetRedis;
    this.keys = [`{${prefix}}:fleet:expiries`, `{${prefix}}:fleet:nodes`];
  }

  async beat(info: NodeInfo, ttlMs: number): Promise<void> {
    await this.redis.fleetBeat(...this.keys, info.id, JSON.stringify({ ...info, ttlMs: Math.round(ttlMs) }), Math.round(ttlMs));
  }

  async leave(id: string): Promise<void> {
    await this.redis.fleetLeave(...this.keys, id);
  }

  async nodes(): Promise<RegisteredNode[]> {
    const [now, ...rest] = await this.redis.fleetList(...this.keys);
    return parseListing(Number(now), rest.map(String));
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/**
 * The LIST script's triples (id, expiry, json) as nodes. Age is counted from the last beat:
 * expiry minus the TTL that beat set, which the node wrote as `ttlMs` alongside its info.
 * An entry that is not valid JSON (another version, a hand edit) is skipped rather than fatal.
 */
export function parseListing(now: number, triples: string[]): RegisteredNode[] {
  const out: RegisteredNode[] = [];
  for (let i = 0; i + 2 < triples.length; i += 3) {
    try {
      const info = JSON.parse(triples[i + 2]!) as NodeInfo & { ttlMs?: number };
      const expiry = Number(triples[i + 1]);
      const { ttlMs = 0, ...node } = info;
      out.push({ ...node, id: triples[i]!, ageS: Math.max(0, (now - (expiry - ttlMs)) / 1000) });
    } catch {
      // skipped: not ours to judge
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The registry of a node alone (SQLite): itself, as of its last beat. */
class LocalRegistry implements Registry {
  readonly shared = false;
  private self?: { info: NodeInfo; at: number };

  async beat(info: NodeInfo): Promise<void> {
    this.self = { info, at: Date.now() };
  }

  async leave(): Promise<void> {
    this.self = undefined;
  }

  async nodes(): Promise<RegisteredNode[]> {
    return this.self ? [{ ...this.self.info, ageS: (Date.now() - this.self.at) / 1000 }] : [];
  }

  async close(): Promise<void> {}
}

/** The registry for the configured store: Redis' when the store is Redis, else a local one. */
export async function openRegistry(store: Config['store'], env: NodeJS.ProcessEnv = process.env, redisOptions: RedisOptions = {}): Promise<Registry> {
  const topology = redisTopology(store);
  if (store.backend !== 'redis' || (!store.url && !topology.sentinels && !topology.clusterNodes)) return new LocalRegistry();
  const redis = createRedis(store.url, topology, {
    lazyConnect: true,
    // A beat that cannot go out is simply late; the next one carries the news.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    ...redisPasswords(store, env),
    ...redisOptions,
  });
  redis.on('error', () => {});
  try {
    await connectRedis(redis);
  } catch (err) {
    redis.disconnect();
    throw new Error(`fleet registry: cannot reach ${describeRedis(store.url, topology)}: ${(err as Error).message}`, { cause: err });
  }
  return new RedisRegistry(redis, store.prefix || 'drover');
}

/** `drover status --fleet`: every live node and the fleet's totals. */
export interface FleetListing {
  /** False when the store is SQLite: this node is the whole fleet. */
  shared: boolean;
  nodes: RegisteredNode[];
  totals: { nodes: number; draining: number; children: number; maxChildren: number; slots: number; running: number; inflight: number };
}

export function fleetListing(shared: boolean, nodes: RegisteredNode[]): FleetListing {
  const sum = (k: 'children' | 'maxChildren' | 'slots' | 'running' | 'inflight') => nodes.reduce((n, x) => n + x[k], 0);
  return {
    shared,
    nodes,
    totals: {
      nodes: nodes.length, draining: nodes.filter((n) => n.draining).length,
      children: sum('children'), maxChildren: sum('maxChildren'), slots: sum('slots'), running: sum('running'), inflight: sum('inflight'),
    },
  };
}

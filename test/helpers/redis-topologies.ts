// Redis as fleets run it beyond one server: a master with a replica watched by three
// sentinels, and a 3-master Cluster. Every process is a real redis-server from
// test/helpers/redis.ts (loopback, free ports, stopped by pid).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from './redis.ts';

const run = promisify(execFile);
const REDIS_CLI = 'redis-cli';
export const SENTINEL_MASTER = 'mymaster';

export interface SentinelSet {
  master: RedisServer;
  replica: RedisServer;
  sentinels: RedisServer[];
  /** host:port of each sentinel, as [store] sentinels takes them. */
  addresses: string[];
  stop(): Promise<void>;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopAll(servers: readonly (RedisServer | undefined)[]): Promise<void> {
  await Promise.all(servers.map((s) => s?.stop()));
}

export interface SentinelSetOptions {
  /** The sentinels' own password (`requirepass` in sentinel.conf; they use it with each other too). */
  sentinelPassword?: string;
}

/** One master, one replica, three sentinels with quorum 2 (down after 1 s, for failover tests). */
export async function startSentinelSet(opts: SentinelSetOptions = {}): Promise<SentinelSet> {
  const started: RedisServer[] = [];
  try {
    const master = await startRedis();
    started.push(master);
    const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    started.push(replica);
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'drover-sentinel-'));
      const config = join(dir, 'sentinel.conf');
      writeFileSync(config, [
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
        ...(opts.sentinelPassword === undefined ? [] : [`requirepass "${opts.sentinelPassword}"`]),
        '',
      ].join('\n'));
      const sentinel = await startRedis({ dir, sentinelConfig: config });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    const admin = new Redis(replica.url, { lazyConnect: true });
    try {
      await until('the replica to sync', async () => (await admin.info('replication')).includes('master_link_status:up'));
    } finally {
      admin.disconnect();
    }
    return {
      master, replica, sentinels,
      addresses: sentinels.map((s) => `127.0.0.1:${s.port}`),
      stop: async () => {
        await stopAll(started);
        for (const s of sentinels) rmSync(s.dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

export interface RedisCluster {
  nodes: RedisServer[];
  /** host:port of each master, as [store] cluster_nodes takes them. */
  addresses: string[];
  stop(): Promise<void>;
}

/** Three masters sharing the 16384 slots, no replicas. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }));
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const n of nodes) {
      const admin = new Redis(n.url, { lazyConnect: true });
      try {
        await until(`cluster_state:ok on ${n.port}`, async () => (await admin.cluster('INFO')).includes('cluster_state:ok'));
      } finally {
        admin.disconnect();
      }
    }
    return { nodes, addresses, stop: () => stopAll(nodes) };
  } catch (err) {
    await stopAll(nodes);
    throw err;
  }
}

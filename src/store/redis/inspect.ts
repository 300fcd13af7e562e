// What a node checks about its Redis at start: eviction would silently drop queued tasks,
// and without AOF a Redis restart loses everything since the last RDB snapshot (or all of it).
import type { RedisClient } from './connect.ts';

export interface RedisDurability {
  version: string;
  maxmemoryPolicy: string;
  aof: boolean;
  /** appendfsync (everysec loses at most about a second of acknowledged writes). */
  appendfsync: string | null;
  /** RDB snapshots configured (`save` rules), as Redis reports them. */
  rdbSaves: boolean;
}

function infoField(info: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return match?.[1]?.trim();
}

/** INFO, which managed Redis services allow where CONFIG GET is often disabled. */
export async function inspectRedis(redis: RedisClient): Promise<RedisDurability> {
  const info = await redis.info();
  let appendfsync: string | null = null;
  let rdbSaves = infoField(info, 'rdb_last_bgsave_status') !== undefined && infoField(info, 'rdb_changes_since_last_save') !== undefined;
  try {
    const fsync = (await redis.config('GET', 'appendfsync')) as string[];
    appendfsync = fsync[1] ?? null;
    const save = (await redis.config('GET', 'save')) as string[];
    rdbSaves = (save[1] ?? '') !== '';
  } catch {
    // CONFIG disabled (managed Redis): INFO is what we know.
  }
  return {
    version: infoField(info, 'redis_version') ?? 'unknown',
    maxmemoryPolicy: infoField(info, 'maxmemory_policy') ?? 'unknown',
    aof: infoField(info, 'aof_enabled') === '1',
    appendfsync,
    rdbSaves,
  };
}

/** Log lines for what was found: [level, message]. A pure decision, tested by table. */
export function durabilityWarnings(d: RedisDurability): ['warn' | 'info', string][] {
  const out: ['warn' | 'info', string][] = [];
  if (d.maxmemoryPolicy !== 'noeviction') {
    out.push(['warn', `redis maxmemory-policy is ${d.maxmemoryPolicy}, not noeviction: at its memory limit Redis will evict keys, silently losing queued tasks, leases and events; set maxmemory-policy noeviction`]);
  }
  if (d.aof) {
    out.push(['info', `redis persistence: AOF (appendfsync ${d.appendfsync ?? 'unknown'})${d.appendfsync === 'everysec' ? ': a crash loses at most about 1 s of acknowledged writes' : ''}`]);
  } else {
    out.push(['warn', `redis persistence: no AOF${d.rdbSaves ? ' (RDB snapshots only)' : ' and no RDB snapshots'}: a Redis restart loses the queue${d.rdbSaves ? ' since the last snapshot' : ''}; set appendonly yes, appendfsync everysec`]);
  }
  return out;
}

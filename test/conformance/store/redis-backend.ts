// The store conformance suite on the Redis backend, wherever that Redis is: one server, a
// master found through Sentinel, or a Cluster. Each store gets a prefix of its own, so tests
// share nothing; `destroy` removes its keys from every data node.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import type { RedisTopology } from '../../../src/store/redis/connect.ts';
import { openRedisStore } from '../../../src/store/redis/index.ts';
import { runStoreConformance } from '../store.ts';

export interface RedisDeployment {
  /** What the store is opened with. */
  url: string;
  topology: RedisTopology;
  /** redis:// URLs of the servers that hold data (every master of a Cluster). */
  dataUrls: string[];
  stop(): Promise<void>;
}

export function runRedisConformance(name: string, start: () => Promise<RedisDeployment>): void {
  let deployment: RedisDeployment | undefined;
  beforeAll(async () => {
    deployment = await start();
  }, 60_000);
  afterAll(async () => {
    await deployment?.stop();
  });

  runStoreConformance(name, async (opts) => {
    const d = deployment!;
    const prefix = `t${randomBytes(6).toString('hex')}`;
    const open = () => openRedisStore({ ...opts, url: d.url, topology: d.topology, prefix });
    return {
      store: await open(),
      openPeer: open,
      destroy: async () => {
        for (const url of d.dataUrls) {
          const admin = new Redis(url);
          try {
            for (const pattern of [`{${prefix}}:*`, `${prefix}:*`]) {
              // One key per DEL: a Cluster refuses keys of several slots in one command.
              for (const key of await admin.keys(pattern)) await admin.del(key);
            }
          } finally {
            admin.disconnect();
          }
        }
      },
    };
  });
}

// The store conformance suite on the Redis backend, against a redis-server of this file's
// own (test/helpers/redis.ts); each store gets a prefix of its own, so tests share nothing.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { openRedisStore } from '../../src/store/redis/index.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { runStoreConformance } from './store.ts';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

runStoreConformance('redis', async (opts) => {
  const prefix = `t${randomBytes(6).toString('hex')}`;
  const open = () => openRedisStore({ ...opts, url: server.url, prefix });
  return {
    store: await open(),
    openPeer: open,
    destroy: async () => {
      const admin = new Redis(server.url);
      try {
        for (const pattern of [`{${prefix}}:*`, `${prefix}:*`]) {
          const keys = await admin.keys(pattern);
          if (keys.length > 0) await admin.del(...keys);
        }
      } finally {
        admin.disconnect();
      }
    },
  };
});

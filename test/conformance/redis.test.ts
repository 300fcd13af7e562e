// The store conformance suite on one redis-server of this file's own (test/helpers/redis.ts).
import { startRedis } from '../helpers/redis.ts';
import { runRedisConformance } from './store/redis-backend.ts';

runRedisConformance('redis', async () => {
  const server = await startRedis();
  return { url: server.url, topology: {}, dataUrls: [server.url], stop: () => server.stop() };
});

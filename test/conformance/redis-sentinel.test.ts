// The store conformance suite on a master found through Sentinel (1 master, 1 replica,
// 3 sentinels), as a fleet that wants failover runs it.
import { SENTINEL_MASTER, startSentinelSet } from '../helpers/redis-topologies.ts';
import { runRedisConformance } from './store/redis-backend.ts';

runRedisConformance('redis through sentinel', async () => {
  const set = await startSentinelSet();
  return {
    url: '',
    topology: { sentinels: set.addresses, sentinelName: SENTINEL_MASTER },
    dataUrls: [set.master.url],
    stop: () => set.stop(),
  };
});

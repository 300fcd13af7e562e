// The store conformance suite on a 3-master Redis Cluster: every script must touch keys of one
// hash slot (a CROSSSLOT error fails the suite).
import { startRedisCluster } from '../helpers/redis-topologies.ts';
import { runRedisConformance } from './store/redis-backend.ts';

runRedisConformance('redis cluster', async () => {
  const cluster = await startRedisCluster();
  return {
    url: '',
    topology: { clusterNodes: cluster.addresses },
    dataUrls: cluster.nodes.map((n) => n.url),
    stop: () => cluster.stop(),
  };
});

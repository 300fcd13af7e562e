// A worker process for the reclaim measurement (bench/lib/reclaim.ts): a real pull loop on
// the Redis store whose tasks never end, so it holds their leases, renewing them, until the
// bench kills it with SIGKILL. Args: redis url, key prefix, lease (s), slots.
import { pino } from 'pino';
import { openRedisStore } from '../../src/store/redis/index.ts';
import { PullLoop } from '../../src/worker-pool/pull-loop.ts';
import type { RunOutcome } from '../../src/worker-pool/protocol.ts';

const [url, prefix, lease, slots] = process.argv.slice(2);
const store = await openRedisStore({ url: url!, prefix: prefix!, queueLimit: 100_000, resultTtlMs: 3_600_000, sessionTtlMs: 3_600_000 });
let held = 0;
const loop = new PullLoop({
  store, worker: 'holder', log: pino({ level: 'silent' }),
  config: { lease: Number(lease), poll_interval: 0.05, retry_delay: 1, retry_delay_max: 1 },
  pool: {
    slots: Number(slots),
    run: () => {
      if (++held === Number(slots)) process.stdout.write('held\n');
      return new Promise<RunOutcome>(() => {});
    },
    abort: () => {},
    kill: () => false,
  },
});
loop.start();

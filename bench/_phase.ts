import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { openRedisStore } from '../src/store/redis/index.ts';
import { startRedis } from '../test/helpers/redis.ts';
const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const server = await startRedis();
const r = new Redis(server.url);
const N = 10000;
for (let rep = 0; rep < 2; rep++) {
  await r.flushall();
  const s = await openRedisStore({ url: server.url, prefix: 'x' + rep, queueLimit: 1e7, resultTtlMs: 60000, sessionTtlMs: 60000 });
  const phase = async (name: string, fn: (i: number) => Promise<unknown>) => {
    await r.config('RESETSTAT');
    const c0 = cpu(server.pid);
    const ps = [];
    for (let i = 0; i < N; i++) ps.push(fn(i));
    const out = await Promise.all(ps);
    const st = (await r.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_fcall'))?.split(',')[2];
    console.log(rep, name, 'cpu_us', ((cpu(server.pid) - c0) * 1000 / N).toFixed(1), st);
    return out;
  };
  await phase('enqueue', (i) => s.enqueue({ tenant: 'bench', input: i, maxAttempts: 1, timeoutMs: 60000 }));
  const claimed = (await phase('claim1', () => s.claim({ worker: 'w', n: 1, leaseMs: 60000 }))).flat() as { id: string; fence: number }[];
  await phase('complete', (i) => s.complete(claimed[i]!.id, claimed[i]!.fence, null));
  await phase('claim_empty', () => s.claim({ worker: 'w', n: 1, leaseMs: 60000 }));
  await phase('stats', () => s.stats());
  await s.close();
}
r.disconnect(); await server.stop();

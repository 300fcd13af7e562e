// npm run bench:queue — drover's Redis store against BullMQ on the same redis-server, and
// drover's SQLite store for reference, opened as a child opens it (writes on a store thread):
// no-op tasks, submit → done, in one process.
//
// Each run submits N tasks (at most 64 submissions in flight) while a consumer with
// `concurrency` slots runs them, each on its own store handle (connection), as BullMQ's Queue
// and Worker are; tasks/s = N / (last done − first submit). drover's slots: see runDrover.
// BullMQ's Worker runs its processor with the same concurrency. Systems and
// concurrencies alternate within each round so a shared machine's drift hits all alike; the
// table gives medians over rounds, and the ratio drover/BullMQ both as a ratio of medians and
// as the median of per-round ratios.
//
// Then reclaim after kill -9 (lib/reclaim.ts): a worker process holding 4 leases of
// RECLAIM_LEASE_S is killed; the time from each lease's expiry (and from the kill) to the
// claim by another, idle process, against the renew interval (lease/3).
//
// Flags: --rounds R (default 5), --tasks N (default 5000), --reclaim-rounds K (default 8),
// --out FILE (raw JSON).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { openRedisStore } from '../src/store/redis/index.ts';
import { openThreadedSqliteStore } from '../src/store/sqlite/threaded.ts';
import { startRedis } from '../test/helpers/redis.ts';
import { runBullmq, runDrover } from './lib/queue-runs.ts';
import { measureReclaim, type Reclaim } from './lib/reclaim.ts';
import { cpuModel } from './lib/cpu.ts';
import { median } from './lib/stats.ts';
import { benchDir } from './lib/temp-dirs.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' }, tasks: { type: 'string', default: '5000' },
    'reclaim-rounds': { type: 'string', default: '8' }, out: { type: 'string' },
  },
});
const ROUNDS = Number(flags.rounds);
const TASKS = Number(flags.tasks);
const RECLAIM_ROUNDS = Number(flags['reclaim-rounds']);
const RECLAIM_LEASE_S = 3;
const CONCURRENCIES = [1, 8, 32] as const;
const SYSTEMS = ['drover-redis', 'bullmq', 'drover-sqlite'] as const;
type System = (typeof SYSTEMS)[number];

interface Sample {
  system: System;
  concurrency: number;
  round: number;
  tasksPerSec: number;
  emptyClaims?: number;
}

async function main(): Promise<void> {
  const server = await startRedis();
  const admin = new Redis(server.url);
  const sqliteDir = benchDir('drover-bench-queue-');
  const samples: Sample[] = [];
  const reclaims: Reclaim[] = [];
  const opts = { queueLimit: 10_000_000, resultTtlMs: 3_600_000, sessionTtlMs: 3_600_000 };
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const concurrency of CONCURRENCIES) {
        // Rotate the order every round: no system always runs first (cold) or last.
        const order = SYSTEMS.map((_, i) => SYSTEMS[(i + round + concurrency) % SYSTEMS.length] as System);
        for (const system of order) {
          await admin.flushall();
          let result: { ms: number; emptyClaims?: number };
          if (system === 'bullmq') {
            result = await runBullmq(server, concurrency, round, TASKS);
          } else {
            const open = () => system === 'drover-redis'
              ? openRedisStore({ ...opts, url: server.url, prefix: `bench${round}c${concurrency}` })
              : openThreadedSqliteStore({ ...opts, path: join(sqliteDir, `r${round}c${concurrency}.db`) });
            const submitter = await open();
            const store = await open();
            try {
              result = await runDrover(submitter, store, concurrency, TASKS);
            } finally {
              await store.close();
              await submitter.close();
            }
          }
          const sample: Sample = { system, concurrency, round, tasksPerSec: (TASKS / result.ms) * 1000 };
          if (result.emptyClaims !== undefined) sample.emptyClaims = result.emptyClaims;
          samples.push(sample);
          console.log(`round ${round} c=${concurrency} ${system.padEnd(13)} ${sample.tasksPerSec.toFixed(0).padStart(6)} tasks/s`);
        }
      }
    }
    for (let round = 1; round <= RECLAIM_ROUNDS; round++) {
      await admin.flushall();
      const r = await measureReclaim(server.url, `reclaim${round}`, RECLAIM_LEASE_S);
      reclaims.push(r);
      console.log(`reclaim round ${round}: after expiry ${r.afterExpiry.join(' ')} ms, after kill ${r.afterKill.join(' ')} ms`);
    }
  } finally {
    admin.disconnect();
    await server.stop();
    rmSync(sqliteDir, { recursive: true, force: true });
  }

  const pick = (system: System, c: number) => samples.filter((s) => s.system === system && s.concurrency === c);
  const redisVersion = '7.0.15';
  if (samples.length > 0) {
    console.log(`\n${cpuModel()}, Node ${process.version}, redis-server ${redisVersion} (no persistence), ${TASKS} no-op tasks per run, ${ROUNDS} rounds`);
    console.log('| concurrency | drover redis (tasks/s) | BullMQ (tasks/s) | drover sqlite (tasks/s) | drover/BullMQ (medians) | drover/BullMQ (median of per-round ratios) |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const c of CONCURRENCIES) {
      const d = pick('drover-redis', c);
      const b = pick('bullmq', c);
      const s = pick('drover-sqlite', c);
      const md = median(d.map((x) => x.tasksPerSec));
      const mb = median(b.map((x) => x.tasksPerSec));
      const perRound = d.map((x) => x.tasksPerSec / (b.find((y) => y.round === x.round)?.tasksPerSec ?? Number.NaN));
      console.log(`| ${c} | ${md.toFixed(0)} | ${mb.toFixed(0)} | ${median(s.map((x) => x.tasksPerSec)).toFixed(0)} | ${(md / mb).toFixed(2)}× | ${median(perRound).toFixed(2)}× |`);
    }
  }
  if (reclaims.length > 0) {
    const renewMs = (RECLAIM_LEASE_S * 1000) / 3;
    const expiry = reclaims.flatMap((r) => r.afterExpiry);
    const kill = reclaims.flatMap((r) => r.afterKill);
    const line = (name: string, ms: number[]) =>
      `| ${name} | ${median(ms).toFixed(0)} | ${Math.max(...ms).toFixed(0)} | ${(median(ms) / renewMs).toFixed(2)}× | ${(Math.max(...ms) / renewMs).toFixed(2)}× |`;
    console.log(`\nReclaim after kill -9: lease ${RECLAIM_LEASE_S} s, renew every ${renewMs.toFixed(0)} ms, ${expiry.length} leases over ${reclaims.length} kills`);
    console.log('| from | median (ms) | max (ms) | median / renew interval | max / renew interval |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(line('lease expiry → claim by another process', expiry));
    console.log(line('kill -9 → claim by another process', kill));
  }
  if (flags.out) writeFileSync(flags.out, JSON.stringify({ date: new Date().toISOString(), tasks: TASKS, rounds: ROUNDS, samples, reclaims }, null, 2));
}

await main();

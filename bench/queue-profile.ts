// node bench/queue-profile.ts — where the Redis server's time goes per task, for drover's Redis
// store and for BullMQ, on the same no-op run as bench/queue.ts. Redis 7 counts the commands a
// script runs in INFO commandstats beside the EVALSHA itself, so one run per system with the
// stats reset before gives, per task: calls and µs of every command, and the scripts' total.
// Client round trips per task are the top-level calls (FCALL, EVALSHA, blocking pops). Beside
// them, the CPU time redis-server and this process used per task, which a busy machine does not
// inflate as it does commandstats' wall-clock µs.
//
// Flags: --tasks N (default 5000), --concurrency C (default 8), --rounds R (default 3; the
// table shows the last, after warm-up), --out FILE (raw JSON).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { openRedisStore } from '../src/store/redis/index.ts';
import { startRedis } from '../test/helpers/redis.ts';
import { runBullmq, runDrover } from './lib/queue-runs.ts';

const { values: flags } = parseArgs({
  options: {
    tasks: { type: 'string', default: '5000' }, concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' }, out: { type: 'string' },
  },
});
const TASKS = Number(flags.tasks);
const CONCURRENCY = Number(flags.concurrency);
const ROUNDS = Number(flags.rounds);

/** CPU time (user + system) a process has used, in µs, from /proc (clock ticks of 10 ms). */
function processCpuUs(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** This process' CPU time in µs. */
function ownCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

interface CommandStat {
  calls: number;
  usec: number;
}

/** INFO commandstats as {command: {calls, usec}}. */
function parseCommandStats(info: string): Record<string, CommandStat> {
  const out: Record<string, CommandStat> = {};
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (m) out[m[1] as string] = { calls: Number(m[2]), usec: Number(m[3]) };
  }
  return out;
}

// Commands a client sends itself (round trips); everything else ran inside a script.
const TOP_LEVEL = new Set(['fcall', 'evalsha', 'eval', 'blpop', 'bzpopmin', 'brpoplpush', 'blmove', 'info', 'config', 'flushall', 'client', 'select', 'hello', 'ping', 'script', 'quit', 'subscribe', 'psubscribe']);

async function main(): Promise<void> {
  const server = await startRedis();
  const admin = new Redis(server.url);
  const raw: Record<string, unknown>[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const system of ['drover-redis', 'bullmq'] as const) {
        await admin.flushall();
        await admin.config('RESETSTAT');
        const serverCpu0 = processCpuUs(server.pid);
        const clientCpu0 = ownCpuUs();
        let ms: number;
        let emptyClaims = 0;
        if (system === 'bullmq') ms = (await runBullmq(server, CONCURRENCY, round, TASKS)).ms;
        else {
          const opts = { queueLimit: 10_000_000, resultTtlMs: 3_600_000, sessionTtlMs: 3_600_000, url: server.url, prefix: `p${round}` };
          const submitter = await openRedisStore(opts);
          const store = await openRedisStore(opts);
          try {
            ({ ms, emptyClaims } = await runDrover(submitter, store, CONCURRENCY, TASKS));
          } finally {
            await store.close();
            await submitter.close();
          }
        }
        // CPU time, unlike commandstats' wall-clock µs, does not grow when the machine is busy.
        const serverCpu = (processCpuUs(server.pid) - serverCpu0) / TASKS;
        const clientCpu = (ownCpuUs() - clientCpu0) / TASKS;
        const stats = parseCommandStats(await admin.info('commandstats'));
        delete stats.info;
        delete stats.config;
        delete stats.flushall;
        raw.push({ system, round, ms, serverCpu, clientCpu, emptyClaims, stats });
        if (round < ROUNDS) continue;
        const rows = Object.entries(stats).sort((a, b) => b[1].usec - a[1].usec);
        const scripts = stats.fcall ?? stats.evalsha ?? { calls: 0, usec: 0 };
        const roundTrips = rows.filter(([c]) => TOP_LEVEL.has(c)).reduce((s, [, v]) => s + v.calls, 0);
        const plain = rows.filter(([c]) => !TOP_LEVEL.has(c));
        console.log(`\n${system}, c=${CONCURRENCY}, ${TASKS} tasks: ${((TASKS / ms) * 1000).toFixed(0)} tasks/s; ` +
          `CPU µs per task: redis-server ${serverCpu.toFixed(0)}, client process ${clientCpu.toFixed(0)}; ` +
          `commandstats µs per task ${(scripts.usec / TASKS).toFixed(1)} in scripts (${(scripts.calls / TASKS).toFixed(2)} calls/task, ` +
          `${(scripts.usec / Math.max(1, scripts.calls)).toFixed(1)} µs each); round trips/task ${(roundTrips / TASKS).toFixed(2)}` +
          (system === 'drover-redis' ? `; claims that found nothing ${emptyClaims}` : ''));
        console.log('| command | calls/task | µs/call | µs/task |');
        console.log('| --- | --- | --- | --- |');
        for (const [cmd, v] of [['scripts (total)', scripts] as const, ...plain]) {
          console.log(`| ${cmd} | ${(v.calls / TASKS).toFixed(2)} | ${(v.usec / Math.max(1, v.calls)).toFixed(2)} | ${(v.usec / TASKS).toFixed(2)} |`);
        }
      }
    }
  } finally {
    admin.disconnect();
    await server.stop();
  }
  if (flags.out) writeFileSync(flags.out, JSON.stringify({ date: new Date().toISOString(), tasks: TASKS, concurrency: CONCURRENCY, raw }, null, 2));
}

await main();

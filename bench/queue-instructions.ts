// node bench/queue-instructions.ts — instructions redis-server executes per task (valgrind
// callgrind), for drover's Redis store and for BullMQ, on the no-op run of bench/queue.ts.
// A count of instructions does not move with the machine's load as times do, so two versions
// of the scripts compare on a busy shared machine. The server runs under valgrind (tens of
// times slower), so runs are short; the counters are zeroed after a warm-up and read once
// the measured tasks are done.
//
// Flags: --tasks N (default 2000), --concurrency C (default 8), --systems drover-redis,bullmq,
// --keep (leave the callgrind dumps for callgrind_annotate; their directory is printed).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openRedisStore } from '../src/store/redis/index.ts';
import type { RedisServer } from '../test/helpers/redis.ts';
import { runBullmq, runDrover } from './lib/queue-runs.ts';

const { values: flags } = parseArgs({
  options: {
    tasks: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '8' },
    systems: { type: 'string', default: 'drover-redis,bullmq' }, keep: { type: 'boolean', default: false },
  },
});
const TASKS = Number(flags.tasks);
const CONCURRENCY = Number(flags.concurrency);
const WARMUP = 200;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const address = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  if (!address || typeof address === 'string' || address.port === 6379) return freePort();
  return address.port;
}

/** redis-server under callgrind, with instrumentation on from the start. */
async function startUnderCallgrind(dir: string): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${join(dir, 'cg.%p')}`,
    '/usr/bin/redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
  ], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server under valgrind exited:\n${out}`)));
  });
  child.stdout.resume();
  const pid = child.pid as number;
  return {
    port, pid, dir, url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Instructions (Ir) counted since the last zeroing: dumps and reads the newest dump. */
function dumpIr(dir: string, pid: number): number {
  spawnSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const dumps = readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`)).sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  const last = dumps[dumps.length - 1];
  if (!last) throw new Error('no callgrind dump');
  const m = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, last), 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

async function measure(system: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-cg-'));
  const server = await startUnderCallgrind(dir);
  try {
    if (system === 'bullmq') {
      await runBullmq(server, CONCURRENCY, 0, WARMUP);
      spawnSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'ignore' });
      await runBullmq(server, CONCURRENCY, 1, TASKS);
      return dumpIr(dir, server.pid) / TASKS;
    }
    // Opened before the counters are zeroed: loading the scripts is not per-task work.
    const opts = { queueLimit: 10_000_000, resultTtlMs: 3_600_000, sessionTtlMs: 3_600_000, url: server.url, prefix: 'q' };
    const submitter = await openRedisStore(opts);
    const store = await openRedisStore(opts);
    try {
      await runDrover(submitter, store, CONCURRENCY, WARMUP);
      spawnSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'ignore' });
      await runDrover(submitter, store, CONCURRENCY, TASKS);
      return dumpIr(dir, server.pid) / TASKS;
    } finally {
      await store.close();
      await submitter.close();
    }
  } finally {
    await server.stop();
    if (flags.keep) console.log(`callgrind dumps of ${system}: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const results: Record<string, number> = {};
for (const system of (flags.systems ?? '').split(',')) {
  results[system] = await measure(system);
  console.log(`${system.padEnd(13)} c=${CONCURRENCY}: ${(results[system] / 1000).toFixed(1)} k instructions per task on redis-server`);
}
if (results['drover-redis'] !== undefined && results.bullmq !== undefined) {
  console.log(`drover/BullMQ instructions per task: ${(results['drover-redis'] / results.bullmq).toFixed(2)}× (below 1: drover does less per task)`);
}

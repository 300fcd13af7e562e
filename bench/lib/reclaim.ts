// Reclaim after kill -9 (issue 17 §3): a worker process holding leases is killed with SIGKILL;
// another process's pull loop (idle, waiting on Redis for work) takes its tasks once their
// leases expire. Measured per task: the claim by the other process minus the lease's expiry
// (the task's leaseUntil, Redis' clock; one machine, so one clock), against the renew
// interval (lease/3). The kill comes at a random moment of the survivor's reaper cycle.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pino } from 'pino';
import { defaultConfig } from '../../src/config/defaults.ts';
import { openRedisStore } from '../../src/store/redis/index.ts';
import { PullLoop } from '../../src/worker-pool/pull-loop.ts';
import type { RunOutcome } from '../../src/worker-pool/protocol.ts';

const HOLDER = join(import.meta.dirname, 'reclaim-holder.ts');
const SLOTS = 4;

export interface Reclaim {
  /** Per task: ms from its lease's expiry to the survivor's claim. */
  afterExpiry: number[];
  /** Per task: ms from the SIGKILL to the survivor's claim. */
  afterKill: number[];
}

/** Kills a holder of SLOTS leases and times their claim by another process. */
export async function measureReclaim(url: string, prefix: string, leaseS: number): Promise<Reclaim> {
  const opts = { url, prefix, queueLimit: 100_000, resultTtlMs: 3_600_000, sessionTtlMs: 3_600_000 };
  const store = await openRedisStore(opts);
  const ids: string[] = [];
  for (let i = 0; i < SLOTS; i++) ids.push((await store.enqueue({ tenant: 'bench', input: i, maxAttempts: 3, timeoutMs: 3_600_000 })).task.id);
  const holder = spawn(process.execPath, [HOLDER, url, prefix, String(leaseS), String(SLOTS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (b: Buffer) => b.toString().includes('held') && resolve());
    holder.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  // The survivor's reaper cycle starts at a random moment of the holder's renew cycle (two
  // processes started independently), or the two timers would run in step.
  await new Promise((r) => setTimeout(r, Math.random() * leaseS * 1000));
  const claimedAt = new Map<string, number>();
  const ends: ((o: RunOutcome) => void)[] = [];
  const survivor = new PullLoop({
    store, worker: 'survivor', log: pino({ level: 'silent' }),
    // As a child runs by default: an idle one claims every poll_interval, and a claim reaps first.
    config: { lease: leaseS, poll_interval: defaultConfig().executor.poll_interval, retry_delay: 1, retry_delay_max: 1 },
    pool: {
      slots: SLOTS,
      run: (job) => {
        claimedAt.set(job.taskId, Date.now());
        return new Promise<RunOutcome>((resolve) => ends.push(resolve));
      },
      abort: () => {},
      kill: () => false,
    },
  });
  survivor.start();
  // Somewhere in the survivor's reaper cycle and the holder's renew cycle.
  await new Promise((r) => setTimeout(r, Math.random() * leaseS * 1000));
  const exited = new Promise((r) => holder.once('exit', r));
  const killedAt = Date.now();
  holder.kill('SIGKILL');
  await exited;
  // Renewed every lease/3, each lease runs at least 2/3 of a lease past the kill: read now,
  // before any reap, it is the dead holder's last expiry.
  const expiry = new Map<string, number>();
  for (const id of ids) expiry.set(id, (await store.get('bench', id))?.leaseUntil ?? Number.NaN);
  const until = Date.now() + leaseS * 5000;
  while (claimedAt.size < SLOTS && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  const claimed = ids.map((id) => claimedAt.get(id) ?? Number.NaN);
  const result = {
    afterExpiry: ids.map((id, i) => claimed[i]! - (expiry.get(id) ?? Number.NaN)),
    afterKill: claimed.map((at) => at - killedAt),
  };
  // The runs end (given back), so no timer of theirs outlives the measurement.
  for (const end of ends) end({ released: true, reason: 'bench over' });
  await survivor.drain(1000);
  await store.close();
  return result;
}

// A thread lowers its own CPU priority, not its process's, and libuv's pool started first keeps the loop's.
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { lowerThreadPriority, startThreadPool, threadTid } from '../../src/thread-priority.ts';
import { threadsOf, type ThreadInfo } from '../helpers/proc.ts';

const MODULE = new URL('../../src/thread-priority.ts', import.meta.url).href;

/** Runs lowerThreadPriority with each increment on a new thread, then file work there; answers what each returned and the thread's id. */
function onThread(increments: number[]): Promise<{ tid: number; nice: (number | null)[]; worker: Worker }> {
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.module).then(async (m) => {
      const nice = workerData.increments.map((n) => m.lowerThreadPriority(n));
      await require('node:fs/promises').stat('/');
      parentPort.postMessage({ tid: m.threadTid(), nice });
      setInterval(() => {}, 60_000); // alive until terminated, to be looked at
    });`, { eval: true, workerData: { module: MODULE, increments } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { tid: number; nice: (number | null)[] }) => resolve({ ...m, worker }));
    worker.once('error', reject);
  });
}

describe('lowerThreadPriority', () => {
  it("raises the calling thread's nice value by the increment, up to 19, and leaves the other threads as they were", async () => {
    const before = threadsOf(process.pid);
    const base = before.find((t) => t.tid === process.pid)!.nice;
    startThreadPool();
    const { tid, nice, worker } = await onThread([3, 4, 0, 30]);
    try {
      expect(nice).toEqual([base + 3, base + 7, base + 7, 19]);
      const after = threadsOf(process.pid);
      expect(after.find((t) => t.tid === tid)?.nice).toBe(19);
      // Every other thread, libuv's pool that did the worker's file work included, keeps its priority.
      const others = after.filter((t) => t.tid !== tid);
      expect(others.some((t) => t.comm === 'libuv-worker')).toBe(true);
      for (const t of others) expect(t, t.comm).toMatchObject({ nice: base });
    } finally {
      await worker.terminate();
    }
  });

  // In a process of its own: vitest's own file work started this one's pool long ago.
  it.each([
    { how: 'started by the event loop first (startThreadPool)', first: true, below: 0 },
    { how: 'first used by a thread of lower priority', first: false, below: 5 },
  ])("libuv's thread pool $how runs $below below the event loop", ({ first, below }) => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
      import { Worker } from 'node:worker_threads';
      import { startThreadPool } from ${JSON.stringify(MODULE)};
      import { threadsOf } from ${JSON.stringify(new URL('../helpers/proc.ts', import.meta.url).href)};
      if (${first}) startThreadPool();
      const w = new Worker(\`
        import(${JSON.stringify(MODULE)}).then(async (m) => {
          m.lowerThreadPriority(5);
          await (await import('node:fs/promises')).stat('/');
          (await import('node:worker_threads')).parentPort.postMessage('done');
        });\`, { eval: true });
      w.once('message', async () => {
        console.log(JSON.stringify(threadsOf(process.pid)));
        await w.terminate();
      });`]).toString();
    const threads = JSON.parse(out) as ThreadInfo[];
    const loop = threads.find((t) => t.comm === 'MainThread')!;
    const pool = threads.filter((t) => t.comm === 'libuv-worker');
    expect(pool.length).toBeGreaterThan(0);
    for (const t of pool) expect(t.nice - loop.nice).toBe(below);
  });

  it('knows the id of the calling thread: the main thread\'s is the process id', () => {
    expect(threadTid()).toBe(process.pid);
  });
});

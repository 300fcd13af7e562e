// The child's executor: the pool of agent threads and the loop that feeds it from the store.
// The child's main thread starts it once the store is open and drains it before exiting.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { startConfiguredMock } from '../agent/mock-llm.ts';
import type { Config, ProviderConfig } from '../config/schema.ts';
import type { Store } from '../store/types.ts';
import type { ExecutorFiles } from './files.ts';
import { threadHeapMb } from './heap.ts';
import { ExecutorPool } from './pool.ts';
import { PullLoop } from './pull-loop.ts';

export interface ExecutorOptions {
  config: Config;
  store: Store;
  log: Logger;
  /** From computeSizing(): threads and concurrent tasks per thread. */
  threads: number;
  tasksPerThread: number;
  childId: number;
  /** Where its threads' code is (executorFiles(), which the child calls once for its store too). */
  files: ExecutorFiles;
  /** Called when the number of running tasks changes; `urgent` when a full pool got a free slot. */
  onChange?: (urgent: boolean) => void;
}

export interface Executor {
  /** Tasks running now. */
  readonly running: number;
  /** Tasks it runs at once: threads × tasks per thread. */
  readonly slots: number;
  /** Queue-wait p95 (s) of the tasks claimed since the last call; 0 when none. */
  takeQueueWaitP95(): number;
  /** Stops claiming, waits for running tasks until the deadline, returns the rest to the queue, stops the threads. */
  drain(deadlineMs: number): Promise<void>;
}

export async function startExecutor(opts: ExecutorOptions): Promise<Executor> {
  const { config, store, log, threads, files } = opts;
  // The default provider `mock` without a base_url is a mock server of this child's own.
  const { providers, mock } = await startConfiguredMock(config.llm.providers);
  const abortGraceMs = Math.max(1, Math.round(config.executor.abort_grace * 1000));
  const heapMb = threadHeapMb(config.executor.thread_heap_mb, config.supervisor.max_rss_mb, threads);
  const pool = new ExecutorPool({
    threads,
    tasksPerThread: opts.tasksPerThread,
    files,
    store,
    log,
    threadHeapMb: heapMb,
    thread: {
      agentFile: config.executor.agent ? resolve(config.executor.agent) : files.defaultAgent,
      providers: perThread(providers, threads),
      defaultProvider: config.llm.default_provider,
      toolLeaseMs: Math.max(1, Math.round(config.executor.lease * 1000)),
      logLevel: config.log.level,
      logFormat: config.log.format,
      childId: opts.childId,
      abortGraceMs,
      storePort: store.connectPort !== undefined,
      nice: config.executor.thread_nice,
    },
  });
  const loop = new PullLoop({
    store, pool, worker: `${hostname()}:${process.pid}`, config: config.executor, log, abandonGraceMs: abortGraceMs,
    ...(opts.onChange && { onChange: opts.onChange }),
  });
  loop.start();
  log.info({ threads, tasksPerThread: opts.tasksPerThread, slots: pool.slots, threadHeapMb: heapMb, threadNice: config.executor.thread_nice, mockLlm: mock?.url }, 'executor started');

  let drained: Promise<void> | undefined;
  return {
    get running() {
      return loop.running;
    },
    slots: pool.slots,
    takeQueueWaitP95: () => loop.takeQueueWaitP95(),
    drain(deadlineMs) {
      drained ??= (async () => {
        await loop.drain(deadlineMs);
        await pool.close();
        await mock?.close();
      })();
      return drained;
    },
  };
}

/**
 * A provider's limits are per child (the config says so), and every thread has its own client
 * (undici pools cannot cross threads), so each thread gets an equal share, at least one.
 */
export function perThread(providers: Record<string, ProviderConfig>, threads: number): Record<string, ProviderConfig> {
  const share = (n: number) => Math.max(1, Math.floor(n / threads));
  return Object.fromEntries(Object.entries(providers).map(([name, p]) => [name, {
    ...p,
    connections: share(p.connections),
    max_concurrency: share(p.max_concurrency),
    tokens_per_minute: p.tokens_per_minute === 0 ? 0 : share(p.tokens_per_minute),
  }]));
}

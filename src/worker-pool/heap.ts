// The heap limit of each executor thread. A thread that outgrows it dies with V8's
// out-of-memory error and piscina starts another, so one leaking agent costs one thread's
// tasks (retried) instead of growing its child past every limit. By default the threads share
// the child's memory limit (supervisor.max_rss_mb) evenly.

/** Below this, V8 spends its time collecting garbage: not a useful limit. */
export const MIN_THREAD_HEAP_MB = 64;

/** MiB of old-generation heap per thread; 0 = no limit (V8's default). */
export function threadHeapMb(setting: number | 'auto', maxRssMb: number, threads: number): number {
  if (setting !== 'auto') return setting;
  if (maxRssMb <= 0) return 0;
  return Math.max(MIN_THREAD_HEAP_MB, Math.floor(maxRssMb / Math.max(1, threads)));
}

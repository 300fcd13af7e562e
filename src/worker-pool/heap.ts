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

/**
 * MiB of young generation (V8's nursery) per executor thread. Node 24 lets new space grow to
 * 64 MiB under steady allocation, and bench:agents found that headroom was half the resident
 * memory per task in flight (26 → 12 KB per task with 10,000 waiting on timers). Waiting tasks
 * live for seconds and are promoted anyway; the price is more scavenges (about 7 % more CPU
 * per completed task in one alternated check).
 */
export const THREAD_YOUNG_GENERATION_MB = 6;

/** The executor threads' V8 limits: `oldMb` as threadHeapMb computes it (0 = V8's default), the nursery always. */
export function threadResourceLimits(oldMb: number): { maxYoungGenerationSizeMb: number; maxOldGenerationSizeMb?: number } {
  return oldMb > 0
    ? { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB, maxOldGenerationSizeMb: oldMb }
    : { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB };
}

/**
 * The V8 flag for a child's heap growth (executor.heap_growing_percent), or null for V8's own.
 * V8 lets an old generation grow 10–300 % past what its last full collection kept, picking by
 * how fast it collects; tasks waiting seconds on an LLM are promoted and die in old space, so
 * that headroom grows with the tasks in flight. 150 cut a fifth of the memory per task at no
 * measurable CPU; 100 cost more CPU (bench/RESULTS.md, "Agent targets"). The flag is
 * process-wide: it covers the child's main, store and executor threads.
 */
export function heapGrowingFlag(percent: number): string | null {
  return percent > 0 ? `--heap-growing-percent=${percent}` : null;
}

const SEMI_SPACE_FLAG = '--max-semi-space-size=';

/**
 * NODE_OPTIONS for a child, given the supervisor's and executor.main_semi_space_mb. V8 sizes a
 * heap's new space once, when the isolate starts, so the flag cannot be set later as the heap
 * growth is; and a single executable reads V8 flags from NODE_OPTIONS only, never its argv.
 * Appended, so it wins over the same flag inherited. Under tasks that wait seconds, V8 grows
 * the main and store threads' semi-spaces to 64 MiB each, about a fifth of a child's memory per
 * task in flight; 4 MiB cost cheap requests nothing measurable (bench/RESULTS.md, "Agent targets").
 */
export function childNodeOptions(inherited: string | undefined, semiSpaceMb: number): string | undefined {
  if (semiSpaceMb <= 0) return inherited;
  return [inherited?.trim(), `${SEMI_SPACE_FLAG}${semiSpaceMb}`].filter(Boolean).join(' ');
}

/** What the child's NODE_OPTIONS was before childNodeOptions: the processes an agent starts inherit the operator's, not drover's. */
export function inheritedNodeOptions(current: string | undefined, semiSpaceMb: number): string | undefined {
  if (semiSpaceMb <= 0 || current === undefined) return current;
  const ours = `${SEMI_SPACE_FLAG}${semiSpaceMb}`;
  if (!current.endsWith(ours)) return current;
  const rest = current.slice(0, -ours.length).trim();
  return rest === '' ? undefined : rest;
}

// The memory guard's decision for one child, from its last reported RSS. Above max_rss_mb a
// ready child is replaced gracefully (a new one starts, the old one drains). A leak keeps
// growing while the old child drains, so above the hard limit the child is killed at once,
// draining or not: its tasks go back to the queue when their leases run out.

export interface MemoryLimits {
  max_rss_mb: number;
  max_rss_hard_mb: number | 'auto';
}

/** How far above max_rss_mb the hard limit lies when it is `auto`. */
export const HARD_LIMIT_FACTOR = 1.5;

/** The hard limit in MiB; 0 = none. */
export function rssHardLimitMb(limits: MemoryLimits): number {
  if (limits.max_rss_hard_mb !== 'auto') return limits.max_rss_hard_mb;
  return Math.floor(limits.max_rss_mb * HARD_LIMIT_FACTOR);
}

export type MemoryVerdict = 'kill' | 'replace' | 'ok';

export function memoryVerdict(rssBytes: number, state: 'ready' | 'draining', replacing: boolean, limits: MemoryLimits): MemoryVerdict {
  const hard = rssHardLimitMb(limits);
  if (hard > 0 && rssBytes > hard * 2 ** 20) return 'kill';
  if (state === 'ready' && !replacing && limits.max_rss_mb > 0 && rssBytes > limits.max_rss_mb * 2 ** 20) return 'replace';
  return 'ok';
}

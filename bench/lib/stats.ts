// Small numeric helpers shared by the benchmark: percentiles, medians and a seeded generator.

/** Nearest-rank percentile (p in 0..100) of an already sorted array; NaN when empty. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentileSorted(s, 50), p99: percentileSorted(s, 99), max: s.length ? s[s.length - 1]! : Number.NaN };
}

/** Median of the finite values; NaN when there is none. */
export function median(values: readonly number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** mulberry32: the same seed gives every variant the same sequence of heavy requests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * How far the busiest or idlest child is from an even share, as a fraction of that share
 * (0.04 = ±4%). `children` counts children that got nothing, too.
 */
export function spread(counts: Readonly<Record<string, number>>, children: number): number {
  const values = Object.values(counts);
  while (values.length < children) values.push(0);
  const total = values.reduce((a, b) => a + b, 0);
  if (total === 0 || children === 0) return Number.NaN;
  const even = total / children;
  return Math.max(...values.map((v) => Math.abs(v - even))) / even;
}

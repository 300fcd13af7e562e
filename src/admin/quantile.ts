// Latency quantiles from histogram buckets, as Prometheus' histogram_quantile() computes them:
// find the bucket the rank falls in and interpolate linearly inside it.

/**
 * `bounds` are the upper bounds (ascending, without +Inf); `counts` the observations per bucket
 * (not cumulative), with one more slot for those above the last bound. Returns undefined with
 * no observations; a rank in the +Inf bucket answers the last bound.
 */
export function quantile(bounds: readonly number[], counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n > 0 && below + n >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      return lo + (bounds[i]! - lo) * ((rank - below) / n);
    }
    below += n;
  }
  return bounds[bounds.length - 1];
}

/** b − a per slot, never below 0 (a child that restarted starts its counters again). */
export function minus(b: readonly number[], a: readonly number[]): number[] {
  return b.map((x, i) => Math.max(0, x - (a[i] ?? 0)));
}

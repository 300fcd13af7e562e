/**
 * Delay before restarting a crashed child: `initial` doubled for each crash in a row, at most
 * `max`. A child that stayed up for `healthy_after` resets the count (the caller's job).
 */
export function restartDelay(consecutiveCrashes: number, initialS: number, maxS: number): number {
  if (consecutiveCrashes <= 0) return 0;
  return Math.min(maxS, initialS * 2 ** (consecutiveCrashes - 1));
}

// What both sides of the balancer share: ordering waiting work by each route's expected cost.

/**
 * Index of what should start next among waiting work (-1 when none waits): the least expected
 * hold minus the time waited, so quick work goes first and slow work waits at most about its
 * own hold longer than in arrival order. The supervisor's ReboundQueue and a child's QuickFirst
 * order by it.
 */
export function quickest<T extends { since: number }>(waiting: readonly T[], expected: (w: T) => number, now: number): number {
  let best = -1;
  let bestScore = Infinity;
  for (let i = 0; i < waiting.length; i++) {
    const w = waiting[i]!;
    const score = expected(w) - (now - w.since);
    if (score < bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

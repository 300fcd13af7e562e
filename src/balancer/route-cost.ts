// What both sides of the balancer share: learning how long each route holds a child's event
// loop, and ordering waiting work by it. The supervisor's ReboundQueue measures a request from
// handoff until the child has taken it; a child's QuickFirst measures the handler's
// synchronous run. Both learn with one RouteCosts and pick with `quickest`.

/** A route whose work holds the event loop this long (ms, running average) or longer is heavy. */
export const HEAVY_MS = 5;
/** A route that drops under this is forgotten: it only came in by a one-off slow run. */
const FORGET_MS = HEAVY_MS / 2;
/** Weight of the newest sample in a route's running average. */
const ALPHA = 0.3;
/** Routes remembered; a heavy route past them counts as quick (new routes are not made to wait). */
const MAX_ROUTES = 512;

/**
 * Per-route running average of the event-loop hold, for heavy routes only: a route never seen
 * heavy has no cost (undefined), so quick work keeps its arrival order among itself.
 */
export class RouteCosts {
  private readonly hold = new Map<string, number>();

  learn(route: string, ms: number): void {
    const old = this.hold.get(route);
    if (old === undefined) {
      if (ms >= HEAVY_MS && this.hold.size < MAX_ROUTES) this.hold.set(route, ms);
      return;
    }
    const next = old + ALPHA * (ms - old);
    if (next < FORGET_MS) this.hold.delete(route);
    else this.hold.set(route, next);
  }

  /** Expected event-loop hold of a route in ms; undefined for one not known to be heavy. */
  expected(route: string): number | undefined {
    return this.hold.get(route);
  }
}

/**
 * Index of what should start next among waiting work (-1 when none waits): the least expected
 * hold minus the time waited, so quick work goes first and slow work waits at most about its
 * own hold longer than in arrival order.
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

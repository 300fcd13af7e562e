import { hasRoom, type Target } from './target.ts';

/** Chooses the child for the next connection, or none (the connection then waits in the supervisor). */
export interface Picker {
  pick(targets: readonly Target[]): Target | undefined;
}

/**
 * The child with the least load among those that accept and are under their target. Ties go
 * to the child after the one picked last, so equal children share a burst evenly instead of
 * the first in the list taking it all.
 */
export function leastLoad(): Picker {
  let cursor = 0;
  return {
    pick(targets: readonly Target[]): Target | undefined {
      let best: Target | undefined;
      let bestLoad = Infinity;
      let bestIndex = 0;
      const n = targets.length;
      for (let k = 0; k < n; k++) {
        const i = (cursor + k) % n;
        const t = targets[i]!;
        if (!hasRoom(t)) continue;
        const load = t.load();
        if (load < bestLoad) {
          best = t;
          bestLoad = load;
          bestIndex = i;
        }
      }
      if (best) cursor = bestIndex + 1;
      return best;
    },
  };
}

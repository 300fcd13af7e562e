import { hasRoom, type Strategy, type Target } from './strategy.ts';

/**
 * The child with the least load. Ties go to the child after the one picked last, so equal
 * children share a burst evenly instead of the first in the list taking it all.
 */
export function leastLoad(): Strategy {
  let cursor = 0;
  return {
    name: 'least-load',
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

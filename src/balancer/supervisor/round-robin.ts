import { hasRoom, type Strategy, type Target } from './strategy.ts';

/** Each child in turn, whatever its load (kept for comparison; skips a child only when full). */
export function roundRobin(): Strategy {
  let cursor = 0;
  return {
    name: 'round-robin',
    pick(targets: readonly Target[]): Target | undefined {
      const n = targets.length;
      for (let k = 0; k < n; k++) {
        const i = (cursor + k) % n;
        const t = targets[i]!;
        if (hasRoom(t)) {
          cursor = i + 1;
          return t;
        }
      }
      return undefined;
    },
  };
}

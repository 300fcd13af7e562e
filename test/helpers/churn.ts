// Allocation as a child's main thread sees it under tasks that wait: many objects, each alive
// for a while, so scavenges find survivors and V8 grows the new space as far as it may.
import { getHeapSpaceStatistics } from 'node:v8';

/** Enough for an uncapped new space to reach 64 MiB (16 rounds) with room to spare. */
export const CHURN_ROUNDS = 40;

/**
 * Allocates `rounds` × 10,000 objects with long-lived survivors; the largest new space seen, in
 * bytes. Counted in work, not time: an uncapped V8 grows its new space with the scavenges it
 * has done (64 MiB after 16 rounds here), and a time limit on a starved machine did too few of
 * them (32 MiB in 300 ms while the whole suite ran on 2 cores).
 */
export function newSpaceUnderChurn(rounds: number): number {
  const live: unknown[] = [];
  let most = 0;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < 10_000; i++) live.push({ i, tags: [i, i + 1], name: `task-${i}` });
    if (live.length > 300_000) live.splice(0, 100_000);
    const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    most = Math.max(most, space?.space_size ?? 0);
  }
  return most;
}

if (import.meta.main) console.log(newSpaceUnderChurn(Number(process.argv[2] ?? CHURN_ROUNDS)));

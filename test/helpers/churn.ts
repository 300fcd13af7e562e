// Allocation as a child's main thread sees it under tasks that wait: many objects, each alive
// for a while, so scavenges find survivors and V8 grows the new space as far as it may.
import { getHeapSpaceStatistics } from 'node:v8';

/** Allocates for `ms` with long-lived survivors; the largest new space seen, in bytes. */
export function newSpaceUnderChurn(ms: number): number {
  const live: unknown[] = [];
  let most = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) live.push({ i, tags: [i, i + 1], name: `task-${i}` });
    if (live.length > 300_000) live.splice(0, 100_000);
    const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    most = Math.max(most, space?.space_size ?? 0);
  }
  return most;
}

if (import.meta.main) console.log(newSpaceUnderChurn(Number(process.argv[2] ?? 500)));

// Which child to remove when scaling down. gunicorn removes the oldest worker; for agent
// tasks that run for minutes the cheapest child to lose is the one with the least work in
// flight, because whatever it still runs must drain or go back to the queue.
import type { Victim, VictimCandidate } from './types.ts';

type Rule<Id> = { key: (c: VictimCandidate<Id>) => number; why: (v: number) => string };

// Least busy first (tasks are the costly work, then requests, then idle connections); the
// youngest last, as it has warmed the fewest caches and carries the least history.
const rules: Rule<unknown>[] = [
  { key: (c) => c.runningTasks, why: (v) => `fewest running tasks (${v})` },
  { key: (c) => c.inflightRequests, why: (v) => `fewest in-flight requests (${v})` },
  { key: (c) => c.connections, why: (v) => `fewest connections (${v})` },
  { key: (c) => c.ageS, why: (v) => `youngest (${Math.round(v)} s old)` },
];

/** The child to drain next, and the rule that singled it out; undefined for an empty list. */
export function pickVictim<Id>(children: readonly VictimCandidate<Id>[]): Victim<Id> | undefined {
  const draining = children.filter((c) => c.draining);
  let pool = draining.length > 0 ? draining : [...children];
  const reasons: string[] = draining.length > 0 ? ['already draining'] : [];
  for (const rule of rules) {
    if (pool.length <= 1) break;
    const best = Math.min(...pool.map(rule.key));
    const narrowed = pool.filter((c) => rule.key(c) === best);
    if (narrowed.length < pool.length) reasons.push(rule.why(best));
    pool = narrowed;
  }
  const [victim] = pool;
  if (!victim) return undefined;
  if (children.length === 1) return { id: victim.id, why: 'only child' };
  // Equal on every rule: the first listed, so the choice is still deterministic.
  return { id: victim.id, why: reasons.length > 0 ? reasons.join('; ') : 'all equal; first listed' };
}

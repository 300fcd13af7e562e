// HPA's `behavior`: stabilisation windows over past recommendations, then rate policies over
// past scale events, then the [min, max] bounds. Ported from kubernetes/kubernetes
// pkg/controller/podautoscaler/horizontal.go (stabilizeRecommendationWithBehaviors,
// convertDesiredReplicasWithBehaviorRate, calculateScale{Up,Down}Limit*), including its
// "strictly after the cutoff" comparisons.
import { ceil } from './metrics.ts';
import type { Policy } from './policy.ts';
import type { History } from './types.ts';

const ms = (s: number): number => s * 1000;

/**
 * Scale up only to the lowest recommendation of the scale-up window, and down only to the
 * highest of the scale-down window: a spike must persist to add children, and a lull must
 * last the whole window to remove them. `raw` is this tick's recommendation, not yet recorded.
 */
export function stabilise(history: History, raw: number, current: number, policy: Policy, now: number): number {
  const upCutoff = now - ms(policy.scale_up_window);
  const downCutoff = now - ms(policy.scale_down_window);
  let up = raw;
  let down = raw;
  for (const rec of history.recommendations) {
    if (rec.at > upCutoff) up = Math.min(up, rec.desired);
    if (rec.at > downCutoff) down = Math.max(down, rec.desired);
  }
  return Math.min(Math.max(current, up), down);
}

function changeWithin(history: History, periodS: number, now: number): number {
  const cutoff = now - ms(periodS);
  let change = 0;
  for (const ev of history.scaleEvents) if (ev.at > cutoff) change += ev.change;
  return change;
}

export interface Limited {
  desired: number;
  /** What capped the change, when something did. */
  by?: 'rate_limited' | 'min' | 'max';
  /** With `rate_limited`: children the policy allows to add or remove per period. */
  step?: number;
}

/** The size after the rate policies (counted from the size at the period's start) and the bounds. */
export function limit(history: History, desired: number, current: number, policy: Policy, now: number): Limited {
  if (desired > current) {
    const start = current - changeWithin(history, policy.scale_up_period, now);
    const step = Math.max(policy.scale_up_max_children, ceil((start * policy.scale_up_max_percent) / 100));
    // Changes made by someone else (a manual scale) can leave `start + step` below current:
    // then hold rather than shrink.
    const rate = Math.max(start + step, current);
    const allowed = Math.min(policy.max_children, rate);
    if (desired <= allowed) return { desired };
    return policy.max_children > rate ? { desired: allowed, by: 'rate_limited', step } : { desired: allowed, by: 'max' };
  }
  if (desired < current) {
    const start = current - changeWithin(history, policy.scale_down_period, now);
    const step = policy.scale_down_max_children;
    const rate = Math.min(start - step, current);
    const allowed = Math.max(policy.min_children, rate);
    if (desired >= allowed) return { desired };
    return policy.min_children < rate ? { desired: allowed, by: 'rate_limited', step } : { desired: allowed, by: 'min' };
  }
  return { desired };
}

/** Drops what no window or period can still see, so the history stays a few dozen entries. */
export function prune(history: History, policy: Policy, now: number): History {
  const recCutoff = now - ms(Math.max(policy.scale_up_window, policy.scale_down_window));
  const eventCutoff = now - ms(Math.max(policy.scale_up_period, policy.scale_down_period));
  return {
    recommendations: history.recommendations.filter((r) => r.at > recCutoff),
    scaleEvents: history.scaleEvents.filter((e) => e.at > eventCutoff),
  };
}

// How many children this node should run, decided once per tick. Pure: the history comes in
// and goes out as data, `now` is the caller's clock, nothing is forked or killed here.
//
// Order, as in the Kubernetes HPA: a size outside [min, max] goes straight to the bound; else
// every metric recommends a size and the largest wins; partial data may scale up but never
// down; the recommendation is stabilised over its window, rate-limited and bounded. Our one
// addition is the memory guard, last, so no rule can add a child while memory is short.
import { limit, prune, stabilise } from './behavior.ts';
import { fleetSignals, shareReadings } from './fleet.ts';
import { readMetrics, type Reading, type Readings } from './metrics.ts';
import type { Policy } from './policy.ts';
import type { Decision, DecisionMetric, History, Signals } from './types.ts';

export interface DecideResult {
  decision: Decision;
  history: History;
}

interface Outcome {
  desired: number;
  metric: DecisionMetric;
  reason: string;
  /** This tick's recommendation, recorded for the stabilisation windows. */
  recommendation?: number;
}

const plural = (n: number): string => `${n} ${n === 1 ? 'child' : 'children'}`;

function memoryShort(s: Signals, p: Policy): string | undefined {
  if (s.freeMemoryMb === undefined || !(s.freeMemoryMb < p.memory_reserve_mb)) return undefined;
  return `not scaling up: free memory ${Math.round(s.freeMemoryMb)} MB < memory_reserve_mb ${p.memory_reserve_mb} MB`;
}

function outOfRange(current: number, s: Signals, p: Policy): Outcome | undefined {
  if (current > p.max_children) {
    return { desired: p.max_children, metric: 'max', reason: `${plural(current)} is above max_children ${p.max_children}` };
  }
  if (current < p.min_children) {
    const reason = `${plural(current)} is below min_children ${p.min_children}`;
    const short = memoryShort(s, p);
    if (short) return { desired: current, metric: 'memory_guard', reason: `${reason}; ${short}` };
    return { desired: p.min_children, metric: 'min', reason };
  }
  return undefined;
}

function fromMetrics(history: History, { readings, missing }: Readings, s: Signals, p: Policy, current: number, now: number): Outcome {
  const [first, ...rest] = readings;
  if (!first) {
    return { desired: current, metric: 'missing_metrics', reason: `no metric to decide on (missing: ${missing.join(', ')}); keeping ${plural(current)}` };
  }
  const driver = rest.reduce<Reading>((best, r) => (r.desired > best.desired ? r : best), first);
  const raw = driver.desired;

  if (missing.length > 0 && raw < current) {
    // HPA: with some metrics unknown, a scale-down could be wrong in the direction that
    // hurts (the unknown metric might need every child), so the tick is skipped.
    return { desired: current, metric: 'missing_metrics', reason: `${driver.text} → ${plural(raw)}, but ${missing.join(', ')} missing: not scaling down` };
  }
  if (raw === current) {
    return driver.withinTolerance
      ? { desired: current, metric: 'within_tolerance', recommendation: raw, reason: `${driver.text}: within ${Math.round(p.tolerance * 100)}% of target; keeping ${plural(current)}` }
      : { desired: current, metric: driver.metric, recommendation: raw, reason: `${driver.text} → ${plural(raw)}, no change` };
  }

  let metric: DecisionMetric = driver.metric;
  let reason = `${driver.text} → ${plural(raw)}`;
  const stable = stabilise(history, raw, current, p, now);
  if (stable !== raw) {
    metric = 'stabilised';
    reason += raw > current
      ? `; held at ${stable} by the lowest recommendation of the last ${p.scale_up_window} s`
      : `; held at ${stable} by the highest recommendation of the last ${p.scale_down_window} s`;
  }
  const limited = limit(history, stable, current, p, now);
  if (limited.by === 'rate_limited') {
    metric = 'rate_limited';
    reason += stable > current
      ? `; at most +${limited.step} per ${p.scale_up_period} s`
      : `; at most -${limited.step} per ${p.scale_down_period} s`;
  } else if (limited.by) {
    metric = limited.by;
    reason += `; held at ${limited.by}_children ${limited.desired}`;
  }
  let desired = limited.desired;
  const short = desired > current ? memoryShort(s, p) : undefined;
  if (short) {
    desired = current;
    metric = 'memory_guard';
    reason += `; ${short}`;
  }
  return { desired, metric, reason, recommendation: raw };
}

export function decide(history: History, signals: Signals, policy: Policy, now: number): DecideResult {
  const current = signals.children + signals.starting;
  // In a fleet the metrics size the whole fleet and this node takes its share (fleet.ts).
  const readings = signals.fleet
    ? shareReadings(readMetrics(fleetSignals(signals, signals.fleet), policy), signals.fleet)
    : readMetrics(signals, policy);
  const outcome = outOfRange(current, signals, policy) ?? fromMetrics(history, readings, signals, policy, current, now);
  const { desired } = outcome;

  const recommendations = outcome.recommendation === undefined
    ? history.recommendations
    : [...history.recommendations, { at: now, desired: outcome.recommendation }];
  const scaleEvents = desired === current ? history.scaleEvents : [...history.scaleEvents, { at: now, change: desired - current }];

  const decision: Decision = {
    desired,
    current,
    direction: desired > current ? 'up' : desired < current ? 'down' : 'none',
    reason: outcome.reason,
    metric: outcome.metric,
    recommendations: Object.fromEntries(readings.readings.map((r) => [r.metric, r.desired])),
  };
  return { decision, history: prune({ recommendations, scaleEvents }, policy, now) };
}

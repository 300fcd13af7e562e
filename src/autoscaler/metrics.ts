// One recommendation per metric, by the Kubernetes HPA control law:
// desired = ceil(base × observed / target), no change while observed/target is within
// `tolerance` of 1. A metric whose target is 0 is ignored; one that cannot be computed this
// tick is reported missing, so decide() can refuse to scale down on partial data.
import type { Policy } from './policy.ts';
import type { SignalMetric, Signals } from './types.ts';

export interface Reading {
  metric: SignalMetric;
  desired: number;
  /** The ratio to target is within tolerance of 1, so this metric asks for the current size. */
  withinTolerance: boolean;
  /** The observed value against its target, for the decision's reason. */
  text: string;
}

export interface Readings {
  /** In a fixed order (slots, queue, queue_wait, http_p95, event_loop_lag): ties go to the first. */
  readings: Reading[];
  missing: SignalMetric[];
}

// Products such as 0.7 × 3 land a hair off an integer; that must not cost a whole child.
export const ceil = (x: number): number => Math.max(0, Math.ceil(x - 1e-9));
const seconds = (s: number): string => `${Number(s.toFixed(3))} s`;
const percent = (x: number): string => `${Math.round(x * 100)}%`;
const known = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

function hpa(metric: SignalMetric, ratio: number, base: number, current: number, policy: Policy, text: string): Reading {
  if (Math.abs(ratio - 1) <= policy.tolerance) return { metric, desired: current, withinTolerance: true, text };
  const raw = ceil(base * ratio);
  // As HPA does: a metric over target never asks for fewer children than are already coming
  // (children still starting are not in `base`), and one under target never asks for more.
  const desired = ratio > 1 ? Math.max(raw, current) : Math.min(raw, current);
  return { metric, desired, withinTolerance: false, text };
}

// Slots and backlog are absolute: they say how many children the work needs at the target
// utilisation. Children still starting count as idle capacity (HPA counts unready pods as 0%).
function demand(metric: SignalMetric, work: number, s: Signals, p: Policy, current: number, text: string): Reading {
  const perChild = s.slotsPerChild * p.target_slot_utilization;
  if (current === 0) return { metric, desired: ceil(work / perChild), withinTolerance: false, text };
  return hpa(metric, work / (current * perChild), current, current, p, text);
}

export function readMetrics(s: Signals, p: Policy): Readings {
  const readings: Reading[] = [];
  const missing: SignalMetric[] = [];
  const current = s.children + s.starting;

  if (s.slotsPerChild > 0) {
    const slots = current * s.slotsPerChild;
    const busy = slots > 0 ? `${percent(s.runningTasks / slots)} (${s.runningTasks} of ${slots} slots)` : `${s.runningTasks} tasks on no slots`;
    const target = percent(p.target_slot_utilization);
    readings.push(demand('slots', s.runningTasks, s, p, current, `slot utilisation ${busy} vs target ${target}`));
    const work = s.runningTasks + s.queueDepth;
    readings.push(demand('queue', work, s, p, current,
      `backlog ${work} tasks (${s.runningTasks} running + ${s.queueDepth} queued) for ${slots} slots at target ${target}`));
  } else {
    missing.push('slots', 'queue');
  }

  // Latency metrics are measured on the ready children, so they scale that count.
  const latency = (metric: SignalMetric, value: number, target: number, text: string): void => {
    if (s.children > 0) readings.push(hpa(metric, value / target, s.children, current, p, text));
    else missing.push(metric);
  };

  const waitTarget = p.target_queue_wait;
  if (waitTarget > 0) {
    const p95 = known(s.queueWaitP95S) ? s.queueWaitP95S : undefined;
    const oldest = s.oldestWaitS;
    const text = p95 !== undefined && p95 >= oldest
      ? `queue wait p95 ${seconds(p95)} vs target ${seconds(waitTarget)}`
      : `queue wait ${seconds(oldest)} (oldest queued task) vs target ${seconds(waitTarget)}`;
    // The oldest task's wait is a lower bound of what the p95 will show once it is claimed:
    // without a p95 it may still prove the queue is too slow, never that it is fast enough.
    if (p95 !== undefined) latency('queue_wait', Math.max(p95, oldest), waitTarget, text);
    else if (oldest / waitTarget > 1 + p.tolerance) latency('queue_wait', oldest, waitTarget, text);
    else missing.push('queue_wait');
  }

  if (p.target_http_p95 > 0) {
    if (known(s.httpP95S)) latency('http_p95', s.httpP95S, p.target_http_p95, `HTTP p95 ${seconds(s.httpP95S)} vs target ${seconds(p.target_http_p95)}`);
    else missing.push('http_p95');
  }

  if (p.max_event_loop_lag > 0) {
    if (known(s.eventLoopLagS)) latency('event_loop_lag', s.eventLoopLagS, p.max_event_loop_lag, `event-loop lag ${seconds(s.eventLoopLagS)} vs max ${seconds(p.max_event_loop_lag)}`);
    else missing.push('event_loop_lag');
  }

  return { readings, missing };
}

// A fake node driven by decide() on a fake clock: a forked child is ready BOOT_S later (and
// counts as starting until then), a removed child leaves the count at once, and the work that
// does not fit in the ready children's slots waits in the queue.
import { defaultConfig } from '../../../src/config/defaults.ts';
import { decide, emptyHistory, resolvePolicy, type Decision, type History, type Policy, type Signals } from '../../../src/autoscaler/index.ts';

export const SLOTS = 10;
export const BOOT_S = 10;

export function policy(overrides: Partial<Policy> = {}): Policy {
  return { ...resolvePolicy(defaultConfig().autoscale, 8), ...overrides };
}

/** A tick's signals with nothing missing: `children` ready, idle, empty queue, healthy latency. */
export function signals(overrides: Partial<Signals> = {}): Signals {
  return {
    children: 2,
    starting: 0,
    slotsPerChild: SLOTS,
    runningTasks: 0,
    queueDepth: 0,
    oldestWaitS: 0,
    queueWaitP95S: 0,
    httpP95S: 0,
    eventLoopLagS: 0.01,
    freeMemoryMb: 8192,
    ...overrides,
  };
}

export interface Tick {
  t: number;
  /** Ready + starting children after this tick's decision was applied. */
  size: number;
  decision: Decision;
}

export interface Run {
  policy: Policy;
  children: number;
  /** Tasks that want a slot at time t (seconds); what does not fit is queued. */
  demand: (t: number) => number;
  seconds: number;
  /** Anything else the signals should say at time t. */
  extra?: (t: number) => Partial<Signals>;
}

export function simulate(run: Run): Tick[] {
  let history: History = emptyHistory();
  let ready = run.children;
  let booting: number[] = []; // ready times
  const ticks: Tick[] = [];
  const stepS = run.policy.interval;
  for (let t = 0; t <= run.seconds; t += stepS) {
    ready += booting.filter((at) => at <= t).length;
    booting = booting.filter((at) => at > t);
    const want = run.demand(t);
    const running = Math.min(want, ready * SLOTS);
    const queued = want - running;
    const s = signals({ children: ready, starting: booting.length, runningTasks: running, queueDepth: queued, oldestWaitS: queued > 0 ? 1 : 0, ...run.extra?.(t) });
    const out = decide(history, s, run.policy, t * 1000);
    history = out.history;
    const change = out.decision.desired - out.decision.current;
    // The sim removes ready children only: enough of them exist whenever the policy shrinks.
    if (change > 0) booting.push(...Array.from({ length: change }, () => t + BOOT_S));
    else ready += change;
    ticks.push({ t, size: ready + booting.length, decision: out.decision });
  }
  return ticks;
}

/** How often the scaling direction reversed (up then down, or down then up). */
export function reversals(ticks: readonly Tick[]): number {
  const moves = ticks.map((k) => k.decision.direction).filter((d) => d !== 'none');
  return moves.filter((d, i) => i > 0 && d !== moves[i - 1]).length;
}

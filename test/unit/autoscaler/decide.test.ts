// One tick at a time: the control law, its tolerance band, bounds, the memory guard, missing
// metrics and the reasons a user reads in `drover status`.
import { describe, expect, it } from 'vitest';
import { decide, emptyHistory, resolvePolicy, type Signals } from '../../../src/autoscaler/index.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { policy, signals } from './sim.ts';

// Windows of 0 show the raw control law; the stabilisation tests use the defaults.
const instant = policy({ scale_up_window: 0, scale_down_window: 0 });
const once = (s: Partial<Signals>, p = instant) => decide(emptyHistory(), signals(s), p, 0).decision;

describe('decide: control law and tolerance', () => {
  // 4 children × 10 slots at target 0.7: 28 running tasks is exactly on target.
  it.each([
    { running: 28, tolerance: 0.1, desired: 4, metric: 'within_tolerance' },
    { running: 30, tolerance: 0.1, desired: 4, metric: 'within_tolerance' }, // ratio 1.07
    { running: 26, tolerance: 0.1, desired: 4, metric: 'within_tolerance' }, // ratio 0.93
    { running: 31, tolerance: 0.1, desired: 5, metric: 'slots' }, // ratio 1.11 → ceil(4.43)
    { running: 25, tolerance: 0.1, desired: 4, metric: 'slots' }, // ratio 0.89 → ceil(3.57): outside the band, same size
    { running: 20, tolerance: 0.1, desired: 3, metric: 'slots' }, // ratio 0.71 → ceil(2.86)
    { running: 29, tolerance: 0, desired: 5, metric: 'slots' }, // no band: ratio 1.04 → ceil(4.14)
    { running: 40, tolerance: 0.5, desired: 4, metric: 'within_tolerance' }, // ratio 1.43 inside a wide band
  ])('$running running on 40 slots, tolerance $tolerance → $desired ($metric)', ({ running, tolerance, desired, metric }) => {
    const d = once({ children: 4, runningTasks: running }, { ...instant, tolerance });
    expect(d.desired).toBe(desired);
    expect(d.metric).toBe(metric);
  });

  it('takes the largest recommendation and reports each metric', () => {
    const d = once({ children: 2, runningTasks: 14, queueDepth: 21, eventLoopLagS: 0.5 });
    // slots: ceil(14/7)=2 · backlog: ceil(35/7)=5 · lag: ceil(2 × 0.5/0.2)=5 · queue wait: 0
    expect(d.recommendations).toEqual({ slots: 2, queue: 5, queue_wait: 0, event_loop_lag: 5 });
    expect(d.desired).toBe(5);
    expect(d.metric).toBe('queue'); // a tie goes to the metric listed first
  });
});

describe('decide: children still starting', () => {
  it.each([
    // HTTP p95 twice its target on 2 ready children asks for 4; 4 more are already booting.
    { name: 'count toward the size, so a slow metric waits for them', starting: 4, desired: 6, direction: 'none' },
    { name: 'and are not counted twice when too few are coming', starting: 1, desired: 4, direction: 'up' },
  ])('$name', ({ starting, desired, direction }) => {
    const d = once({ children: 2, starting, runningTasks: 10, httpP95S: 1 }, { ...instant, target_http_p95: 0.5 });
    expect(d).toMatchObject({ current: 2 + starting, desired, direction });
  });
});

describe('decide: reasons name the driving metric with its value', () => {
  it.each([
    { metric: 'slots', s: { children: 2, runningTasks: 19 }, desired: 3, reason: /slot utilisation 95% \(19 of 20 slots\) vs target 70%/ },
    { metric: 'queue', s: { children: 2, runningTasks: 20, queueDepth: 20 }, desired: 6, reason: /backlog 40 tasks \(20 running \+ 20 queued\)/ },
    { metric: 'queue_wait', s: { children: 2, runningTasks: 10, queueWaitP95S: 10 }, desired: 4, reason: /queue wait p95 10 s vs target 5 s/ },
    { metric: 'queue_wait', s: { children: 2, runningTasks: 10, queueDepth: 1, queueWaitP95S: undefined, oldestWaitS: 12 }, desired: 5, reason: /queue wait 12 s \(oldest queued task\) vs target 5 s/ },
    { metric: 'http_p95', s: { children: 2, runningTasks: 10, httpP95S: 1.5 }, desired: 6, reason: /HTTP p95 1\.5 s vs target 0\.5 s/ },
    { metric: 'event_loop_lag', s: { children: 2, runningTasks: 10, eventLoopLagS: 0.5 }, desired: 5, reason: /event-loop lag 0\.5 s vs max 0\.2 s/ },
  ])('$metric: $reason', ({ metric, s, desired, reason }) => {
    const d = once(s, { ...instant, target_http_p95: 0.5 });
    expect(d.metric).toBe(metric);
    expect(d.desired).toBe(desired);
    expect(d.direction).toBe('up');
    expect(d.reason).toMatch(reason);
    expect(d.reason).toContain(`→ ${desired} children`);
  });

  it('says when nothing changes because every metric is within tolerance', () => {
    expect(once({ children: 4, runningTasks: 30 }).reason).toMatch(/slot utilisation 75% \(30 of 40 slots\).*within 10% of target; keeping 4 children/);
  });
});

describe('decide: min and max hold', () => {
  const p = { ...instant, min_children: 2, max_children: 8 };
  it.each([
    { name: 'at max under a flood', s: { children: 8, runningTasks: 80, queueDepth: 500 }, desired: 8, metric: 'max', reason: /held at max_children 8/ },
    { name: 'at min when idle', s: { children: 2 }, desired: 2, metric: 'min', reason: /held at min_children 2/ },
    { name: 'above max (max lowered on reload)', s: { children: 11 }, desired: 8, metric: 'max', reason: /11 children is above max_children 8/ },
    { name: 'below min', s: { children: 1 }, desired: 2, metric: 'min', reason: /1 child is below min_children 2/ },
    { name: 'no children at all', s: { children: 0 }, desired: 2, metric: 'min', reason: /0 children is below min_children 2/ },
    { name: 'flood just under max', s: { children: 6, runningTasks: 60, queueDepth: 500 }, desired: 8, metric: 'max', reason: /held at max_children 8/ },
  ])('$name → $desired ($metric)', ({ s, desired, metric, reason }) => {
    const d = once(s, p);
    expect(d.desired).toBe(desired);
    expect(d.metric).toBe(metric);
    expect(d.reason).toMatch(reason);
  });

  it('resolves max_children = "auto", never below min_children', () => {
    const cfg = defaultConfig().autoscale;
    expect(resolvePolicy(cfg, 8).max_children).toBe(8);
    expect(resolvePolicy({ ...cfg, min_children: 4 }, 2).max_children).toBe(4);
    expect(resolvePolicy({ ...cfg, max_children: 3 }, 8).max_children).toBe(3);
    expect(() => resolvePolicy({ ...cfg, min_children: 4, max_children: 3 }, 8)).toThrow(expect.objectContaining({ code: 'AUTOSCALE_MIN_ABOVE_MAX' }));
  });
});

describe('decide: memory guard', () => {
  const flood = { children: 2, runningTasks: 20, queueDepth: 100 };
  it.each([
    { name: 'blocks a scale-up', s: { ...flood, freeMemoryMb: 100 }, p: instant, desired: 2, metric: 'memory_guard' },
    { name: 'blocks the climb to min_children', s: { children: 1, freeMemoryMb: 100 }, p: { ...instant, min_children: 3 }, desired: 1, metric: 'memory_guard' },
    { name: 'lets a scale-down through', s: { children: 6, freeMemoryMb: 100 }, p: instant, desired: 5, metric: 'rate_limited' },
    { name: 'allows scale-up with enough memory', s: { ...flood, freeMemoryMb: 600 }, p: instant, desired: 6, metric: 'rate_limited' },
    { name: 'is off with memory_reserve_mb = 0', s: { ...flood, freeMemoryMb: 0 }, p: { ...instant, memory_reserve_mb: 0 }, desired: 6, metric: 'rate_limited' },
  ])('$name', ({ s, p, desired, metric }) => {
    const d = once(s, p);
    expect(d.desired).toBe(desired);
    expect(d.metric).toBe(metric);
    if (metric === 'memory_guard') expect(d.reason).toMatch(/not scaling up: free memory 100 MB < memory_reserve_mb 512 MB/);
  });
});

describe('decide: missing metrics', () => {
  const withHttp = { ...instant, target_http_p95: 1 };
  it.each([
    { name: 'no p95 for HTTP', s: { children: 6, httpP95S: undefined }, missing: 'http_p95' },
    { name: 'no event-loop lag', s: { children: 6, eventLoopLagS: undefined }, missing: 'event_loop_lag' },
    { name: 'no queue-wait p95', s: { children: 6, queueWaitP95S: undefined }, missing: 'queue_wait' },
    { name: 'a NaN lag', s: { children: 6, eventLoopLagS: Number.NaN }, missing: 'event_loop_lag' },
    { name: 'slot count unknown', s: { children: 6, slotsPerChild: 0 }, missing: 'slots, queue' },
  ])('$name: an idle node is not scaled down', ({ s, missing }) => {
    const d = once(s, withHttp);
    expect(d.direction).toBe('none');
    expect(d.metric).toBe('missing_metrics');
    expect(d.reason).toContain(`${missing} missing: not scaling down`);
    // The same tick with every metric present does scale down: the hold is the missing metric's doing.
    expect(once({ children: 6 }, withHttp).direction).toBe('down');
  });

  it('still scales up on the metrics it has', () => {
    const d = once({ children: 2, runningTasks: 20, queueDepth: 30, httpP95S: undefined, eventLoopLagS: undefined }, withHttp);
    expect(d.direction).toBe('up');
    expect(d.metric).toBe('rate_limited');
  });

  it('with no data at all keeps the size', () => {
    const d = once({ children: 3, slotsPerChild: 0, queueWaitP95S: undefined, httpP95S: undefined, eventLoopLagS: undefined }, withHttp);
    expect(d).toMatchObject({ desired: 3, direction: 'none', metric: 'missing_metrics', recommendations: {} });
    expect(d.reason).toMatch(/no metric to decide on \(missing: slots, queue, queue_wait, http_p95, event_loop_lag\)/);
  });

  it('never scales down over 500 random ticks with one metric missing', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const drop: (keyof Signals)[] = ['queueWaitP95S', 'httpP95S', 'eventLoopLagS'];
    let history = emptyHistory();
    let children = 4;
    let downsWithAll = 0;
    for (let i = 0; i < 500; i++) {
      const s = signals({
        children,
        runningTasks: Math.floor(rand() * children * 10),
        queueDepth: rand() < 0.3 ? Math.floor(rand() * 50) : 0,
        queueWaitP95S: rand() * 8,
        httpP95S: rand() * 2,
        eventLoopLagS: rand() * 0.4,
      });
      if (decide(emptyHistory(), s, withHttp, 0).decision.direction === 'down') downsWithAll++;
      const partial = { ...s, [drop[i % 3]!]: undefined };
      const out = decide(history, partial, withHttp, i * 5000);
      expect(out.decision.direction, out.decision.reason).not.toBe('down');
      history = out.history;
      children = out.decision.desired;
    }
    expect(downsWithAll).toBeGreaterThan(20);
  });
});

describe('decide: purity', () => {
  it('returns the same decision for the same inputs and leaves the input history alone', () => {
    const history = Object.freeze({ recommendations: Object.freeze([{ at: 0, desired: 6 }]), scaleEvents: Object.freeze([{ at: 0, change: 2 }]) });
    const s = signals({ children: 6, runningTasks: 3 });
    const a = decide(history, s, policy(), 10_000);
    const b = decide(history, s, policy(), 10_000);
    expect(a).toEqual(b);
    expect(history.recommendations).toHaveLength(1);
    expect(a.history.recommendations).toEqual([{ at: 0, desired: 6 }, { at: 10_000, desired: 1 }]);
  });
});

// decide() over time on a fake clock (one tick per `interval`, 5 s by default; children take
// 10 s to boot): how fast a
// spike is absorbed, that a lull waits its window, and that oscillating load does not flap.
import { describe, expect, it } from 'vitest';
import { policy, reversals, simulate, type Tick } from './sim.ts';

const sizeAt = (ticks: Tick[], t: number): number => ticks.find((k) => k.t === t)!.size;

describe('a spike scales up within the policy cap per period', () => {
  it.each([
    // step = max(scale_up_max_children, ceil(size at the period start × percent / 100))
    { name: 'defaults (+4 or +100%)', knobs: {}, sizes: [6, 12, 24, 32] },
    { name: 'children only (+4)', knobs: { scale_up_max_percent: 0 }, sizes: [6, 10, 14, 18] },
    { name: '+1 or +50%', knobs: { scale_up_max_children: 1, scale_up_max_percent: 50 }, sizes: [3, 5, 8, 12] },
    { name: 'a 30 s period', knobs: { scale_up_period: 30 }, sizes: [6, 6, 12, 12] },
  ])('$name: sizes at 0/15/30/45 s are $sizes', ({ knobs, sizes }) => {
    const p = policy({ max_children: 32, ...knobs });
    const ticks = simulate({ policy: p, children: 2, demand: () => 1000, seconds: 60 });
    expect([0, 15, 30, 45].map((t) => sizeAt(ticks, t))).toEqual(sizes);
    // Between the period boundaries the size holds, and the decision says the rate policy held it.
    for (const k of ticks.filter((k) => k.t % p.scale_up_period !== 0 && k.size < 32)) {
      expect(k.decision).toMatchObject({ direction: 'none', metric: 'rate_limited' });
      expect(k.decision.reason).toContain(`per ${p.scale_up_period} s`);
    }
  });

  it('never adds more in any period than the cap allows from the size at its start', () => {
    const p = policy({ max_children: 128 });
    const ticks = simulate({ policy: p, children: 1, demand: (t) => (t < 20 ? 30 : 600), seconds: 120 });
    for (const k of ticks) {
      const start = ticks.filter((o) => o.t <= k.t - p.scale_up_period).at(-1)?.size ?? 1;
      expect(k.size - start).toBeLessThanOrEqual(Math.max(p.scale_up_max_children, Math.ceil(start * p.scale_up_max_percent / 100)));
    }
    expect(ticks.at(-1)!.size).toBe(ticks.at(-1)!.decision.recommendations.queue);
  });
});

describe('scale-down waits its window, then steps down by at most the policy per period', () => {
  it.each([
    { name: 'defaults (-1 per 60 s after 300 s)', knobs: {}, step: 1 },
    { name: '-2 per 30 s after 120 s', knobs: { scale_down_window: 120, scale_down_max_children: 2, scale_down_period: 30 }, step: 2 },
  ])('$name', ({ knobs, step }) => {
    const p = policy(knobs);
    // 40 tasks need ceil(40 / 7) = 6 children; the work stops at 60 s.
    const ticks = simulate({ policy: p, children: 1, demand: (t) => (t < 60 ? 40 : 0), seconds: 1200 });
    expect(sizeAt(ticks, 55)).toBe(6);
    const lastBusy = 55;
    const downs = ticks.filter((k) => k.decision.direction === 'down');
    expect(downs[0]!.t).toBe(lastBusy + p.scale_down_window);
    for (const k of ticks.filter((k) => k.t > lastBusy && k.t < downs[0]!.t)) {
      expect(k.decision.metric).toBe('stabilised');
      expect(k.decision.reason).toContain(`held at 6 by the highest recommendation of the last ${p.scale_down_window} s`);
    }
    for (const [i, k] of downs.entries()) {
      expect(k.decision.current - k.decision.desired).toBeLessThanOrEqual(step);
      if (i > 0) expect(k.t - downs[i - 1]!.t).toBeGreaterThanOrEqual(p.scale_down_period);
    }
    expect(ticks.at(-1)!.size).toBe(p.min_children);
  });
});

describe('oscillating load does not flap', () => {
  // Work swings every 30 s between 10 tasks (2 children) and 60 tasks (9 children) for 5 minutes.
  const demand = (t: number) => (Math.floor(t / 30) % 2 === 0 ? 10 : 60);

  it('with the default windows the size only grows: no direction change', () => {
    const ticks = simulate({ policy: policy({ max_children: 16 }), children: 2, demand, seconds: 300 });
    expect(reversals(ticks)).toBe(0);
    expect(Math.max(...ticks.map((k) => k.size))).toBe(9);
    expect(ticks.at(-1)!.size).toBe(9);
  });

  it('without a scale-down window the same load flaps (what the window prevents)', () => {
    const p = policy({ max_children: 16, scale_down_window: 0, scale_down_max_children: 16, scale_down_period: 5 });
    expect(reversals(simulate({ policy: p, children: 2, demand, seconds: 300 }))).toBeGreaterThanOrEqual(8);
  });

  it('a scale-up window ignores a spike shorter than the window', () => {
    const p = policy({ scale_up_window: 30 });
    const blip = (t: number) => (t >= 60 && t < 75 ? 60 : 10);
    const ticks = simulate({ policy: p, children: 2, demand: blip, seconds: 150 });
    expect(ticks.every((k) => k.size === 2)).toBe(true);
    expect(ticks.find((k) => k.t === 60)!.decision).toMatchObject({ metric: 'stabilised', direction: 'none' });
  });
});

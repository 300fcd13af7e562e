import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { AutoscaleLoop, resolvePolicy, type Signals } from '../../../src/autoscaler/index.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';

const idle: Signals = { children: 2, starting: 0, slotsPerChild: 10, runningTasks: 0, queueDepth: 0, oldestWaitS: 0, queueWaitP95S: 0, httpP95S: 0, eventLoopLagS: 0, freeMemoryMb: 10_000 };

describe('AutoscaleLoop', () => {
  it('does not scale down an idle node before a whole scale-down window has passed since start', async () => {
    const policy = resolvePolicy({ ...defaultConfig().autoscale, scale_down_window: 300 }, 4);
    const applied: number[] = [];
    let current = 2;
    const loop = new AutoscaleLoop(policy, {
      signals: async () => ({ ...idle, children: current }),
      paused: () => false,
      apply: (n) => applied.push((current = n)),
    }, pino({ level: 'silent' }));
    const t0 = 1_000_000;
    loop.seed(2, t0);
    for (let t = t0 + 5_000; t < t0 + 300_000; t += 5_000) await loop.tick(t);
    expect(applied).toEqual([]);
    await loop.tick(t0 + 305_000);
    expect(applied).toEqual([1]);
    expect(loop.decisions.at(-1)).toMatchObject({ direction: 'down', current: 2, desired: 1 });
  });

  it('skips ticks while paused', async () => {
    const policy = resolvePolicy(defaultConfig().autoscale, 4);
    let asked = 0;
    const loop = new AutoscaleLoop(policy, { signals: async () => (asked++, idle), paused: () => true, apply: () => {} }, pino({ level: 'silent' }));
    expect(await loop.tick(1)).toBeUndefined();
    expect(asked).toBe(0);
  });
});

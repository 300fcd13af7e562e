import { describe, expect, it } from 'vitest';
import { History } from '../../../src/admin/history.ts';
import { minus, quantile } from '../../../src/admin/quantile.ts';
import { sparkline } from '../../../src/cli/top.ts';

const at = (...xs: number[]) => xs.map((x) => ({ at: x }));

describe('History (the status page ring)', () => {
  it.each([
    { pushed: [], all: [], last: undefined },
    { pushed: [1, 2], all: [1, 2], last: 2 },
    { pushed: [1, 2, 3], all: [1, 2, 3], last: 3 },
    { pushed: [1, 2, 3, 4, 5], all: [3, 4, 5], last: 5 },
    { pushed: [1, 2, 3, 4, 5, 6, 7], all: [5, 6, 7], last: 7 },
  ])('keeps the last 3 of $pushed, oldest first', ({ pushed, all, last }) => {
    const h = new History<{ at: number }>(3);
    for (const x of at(...pushed)) h.push(x);
    expect(h.all()).toEqual(at(...all));
    expect(h.size).toBe(all.length);
    expect(h.last()?.at).toBe(last);
  });

  it('since(t) gives only what came after t (what a viewer lacks)', () => {
    const h = new History<{ at: number }>(5);
    for (const x of at(10, 20, 30, 40, 50, 60)) h.push(x);
    expect(h.since(0)).toEqual(at(20, 30, 40, 50, 60));
    expect(h.since(40)).toEqual(at(50, 60));
    expect(h.since(60)).toEqual([]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new History(0)).toThrow(/positive integer/);
    expect(() => new History(1.5)).toThrow(/positive integer/);
  });
});

describe('quantile from histogram buckets (as histogram_quantile)', () => {
  const bounds = [0.1, 0.5, 1];
  it.each([
    { counts: [0, 0, 0, 0], q: 0.5, want: undefined },
    { counts: [10, 0, 0, 0], q: 0.5, want: 0.05 },
    { counts: [10, 0, 0, 0], q: 1, want: 0.1 },
    { counts: [5, 5, 0, 0], q: 0.5, want: 0.1 },
    { counts: [5, 5, 0, 0], q: 0.75, want: 0.3 },
    { counts: [0, 0, 10, 0], q: 0.95, want: 0.975 },
    // Above the last bound: the last bound (there is nothing to interpolate to).
    { counts: [1, 0, 0, 9], q: 0.95, want: 1 },
  ])('$counts at q=$q → $want', ({ counts, q, want }) => {
    const got = quantile(bounds, counts, q);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toBeCloseTo(want, 9);
  });

  it('minus() never goes below 0 (a restarted child starts its counters again)', () => {
    expect(minus([5, 3, 9], [2, 4, 1])).toEqual([3, 0, 8]);
  });
});

describe('sparkline (drover top)', () => {
  it.each([
    { values: [0, 4, 8], width: 3, max: 8, want: '▁▅█' },
    { values: [1, 1, 1], width: 3, max: 1, want: '███' },
    { values: [0, 0], width: 5, max: 0, want: '▁▁' },
    // Wider history than the screen: buckets of 2, each its largest value.
    { values: [0, 8, 0, 0, 4, 0], width: 3, max: 8, want: '█▁▅' },
    { values: [undefined, 2], width: 2, max: 2, want: ' █' },
  ])('$values in $width columns → "$want"', ({ values, width, max, want }) => {
    expect(sparkline(values, width, max)).toBe(want);
  });
});

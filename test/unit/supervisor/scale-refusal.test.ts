// `drover scale N` beyond autoscale.max_children only with --force, and the refusal says why
// in the operator's numbers.
import { describe, expect, it } from 'vitest';
import { scaleVerdict, type ScaleVerdict } from '../../../src/supervisor/scale-refusal.ts';

const sizing = { maxChildren: 4, memoryLimitMb: 4096, memoryBudgetMb: 512 };

describe('scaleVerdict', () => {
  it.each<[string, number, boolean, ScaleVerdict]>([
    ['within max_children', 4, false, { ok: true }],
    ['to none', 0, false, { ok: true }],
    ['past it, refused with the memory arithmetic', 5, false, {
      ok: false, error: 'cannot scale to 5: autoscale.max_children is 4; the memory for tasks (2048 MB at 512 MB per child) allows 4; add --force to go beyond',
    }],
    ['past it with --force', 9, true, { ok: true, forcedPast: { maxChildren: 4, memoryAllows: 4 } }],
  ])('%s', (_, n, force, verdict) => {
    expect(scaleVerdict(n, force, sizing)).toEqual(verdict);
  });

  it('says memory allows at least one child, however small the machine', () => {
    expect(scaleVerdict(2, true, { maxChildren: 1, memoryLimitMb: 256, memoryBudgetMb: 512 })).toEqual({ ok: true, forcedPast: { maxChildren: 1, memoryAllows: 1 } });
  });
});

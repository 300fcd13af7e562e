import { describe, expect, it } from 'vitest';
import { restartDelay } from '../../../src/supervisor/backoff.ts';

describe('restartDelay', () => {
  // initial 0.5 s, max 5 s: doubled for each crash in a row, up to the maximum.
  it.each([
    [0, 0],
    [1, 0.5],
    [2, 1],
    [3, 2],
    [4, 4],
    [5, 5],
    [9, 5],
  ])('%i crashes in a row → %d s', (crashes, delayS) => {
    expect(restartDelay(crashes, 0.5, 5)).toBe(delayS);
  });
});

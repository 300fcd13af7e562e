import { describe, expect, it } from 'vitest';
import { restartDelay } from '../../../src/supervisor/backoff.ts';

describe('restartDelay', () => {
  it('doubles from the initial delay for each crash in a row, up to the maximum', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => restartDelay(n, 0.5, 5))).toEqual([0, 0.5, 1, 2, 4, 5, 5]);
  });
});

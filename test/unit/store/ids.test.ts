import { describe, expect, it } from 'vitest';
import { newTaskId } from '../../../src/store/ids.ts';

describe('task ids', () => {
  it('are all different, past the batch of random bits drawn at once', () => {
    const ids = Array.from({ length: 5_000 }, () => newTaskId(1_800_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    // 64 random bits each: hardly any two share their random part, even in one millisecond.
    expect(new Set(ids.map((id) => id.slice(-16))).size).toBeGreaterThan(4_990);
  });

  it('have one width and sort as strings in the order they were made, across milliseconds', () => {
    const ids = [1_800_000_000_000, 1_800_000_000_000, 1_800_000_000_001, 1_800_000_000_500].map(newTaskId);
    expect(ids.every((id) => /^t_[0-9a-z]{13}[0-9a-f]{16}$/.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });
});

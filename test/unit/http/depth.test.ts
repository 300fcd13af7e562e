import { describe, expect, it } from 'vitest';
import { deeperThan } from '../../../src/http/api/depth.ts';

const nested = (n: number): unknown => JSON.parse('['.repeat(n) + ']'.repeat(n));

describe('deeperThan', () => {
  const cases: [string, unknown, number, boolean][] = [
    ['a scalar', 'x', 0, false],
    ['null', null, 0, false],
    ['an empty object at limit 1', {}, 1, false],
    ['an empty object at limit 0', {}, 0, true],
    ['3 arrays at limit 3', nested(3), 3, false],
    ['4 arrays at limit 3', nested(4), 3, true],
    ['objects and arrays mixed', { a: [{ b: [1] }] }, 4, false],
    ['objects and arrays mixed, one over', { a: [{ b: [{}] }] }, 4, true],
    ['the deep branch is not the first', { a: 1, b: [2, [3]], c: { d: { e: { f: {} } } } }, 3, true],
    ['wide but shallow', { list: Array.from({ length: 10_000 }, (_, i) => ({ i })) }, 3, false],
    ['100,000 nested arrays (JSON.stringify overflows on it)', nested(100_000), 64, true],
  ];
  it.each(cases)('%s', (_name, value, max, expected) => {
    expect(deeperThan(value, max)).toBe(expected);
  });
});

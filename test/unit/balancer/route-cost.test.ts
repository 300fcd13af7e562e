// The one learner of per-route cost both sides of the balancer use: heavy routes only, a
// running average, forgotten once they turn quick.
import { describe, expect, it } from 'vitest';
import { HEAVY_MS, quickest, RouteCosts } from '../../../src/balancer/route-cost.ts';

describe('RouteCosts', () => {
  it.each<[string, number[], number | undefined]>([
    ['never seen', [], undefined],
    ['a quick first run is not remembered', [HEAVY_MS - 1], undefined],
    ['a heavy first run is taken as it is', [40], 40],
    ['then a running average, three tenths toward each new run', [40, 20], 34],
    ['a route that turns quick is forgotten', [6, 0, 0, 0], undefined],
    ['one quick run does not make a heavy route forgotten', [40, 0], 28],
  ])('%s: %j → %s', (_, runs, expected) => {
    const costs = new RouteCosts();
    for (const ms of runs) costs.learn('GET /x', ms);
    expect(costs.expected('GET /x')).toEqual(expected === undefined ? undefined : expect.closeTo(expected, 6));
  });
});

describe('quickest', () => {
  const w = (cost: number, since: number) => ({ cost, since });
  it.each<[string, { cost: number; since: number }[], number, number]>([
    ['nothing waits', [], 10, -1],
    ['the cheapest goes first', [w(40, 0), w(0, 1)], 5, 1],
    ['a costly one that has waited longer than its cost goes first', [w(40, 0), w(0, 45)], 46, 0],
    ['among equals, arrival order', [w(0, 3), w(0, 1), w(0, 9)], 10, 1],
  ])('%s', (_, waiting, now, index) => {
    expect(quickest(waiting, (x) => x.cost, now)).toBe(index);
  });
});

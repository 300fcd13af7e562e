import { describe, expect, it } from 'vitest';
import { limitedInWindow, pruneScrapes, tenantRows, type LimitedScrape } from '../../../src/admin/tenants.ts';
import { tenantsLine } from '../../../src/cli/top.ts';

const scrape = (at: number, counts: Record<string, number>): LimitedScrape => ({ at, byTenant: new Map(Object.entries(counts)) });

describe('limitedInWindow (refusals per tenant over the last minute)', () => {
  it.each([
    { name: 'no scrape yet', scrapes: [], want: {} },
    { name: 'one scrape: nothing to compare with', scrapes: [scrape(0, { acme: 5 })], want: {} },
    { name: 'younger than the window: since the first scrape', scrapes: [scrape(0, { acme: 5 }), scrape(5000, { acme: 9, globex: 2 })], want: { acme: 4, globex: 2 } },
    {
      name: 'base is the newest scrape a full window old',
      scrapes: [scrape(0, { acme: 1 }), scrape(5000, { acme: 10 }), scrape(30_000, { acme: 20 }), scrape(65_000, { acme: 25 })],
      want: { acme: 15 },
    },
    { name: 'a restarted child lowers the sum: clamped, not negative', scrapes: [scrape(0, { acme: 10, globex: 3 }), scrape(5000, { acme: 4, globex: 5 })], want: { globex: 2 } },
    { name: 'no new refusals: left out', scrapes: [scrape(0, { acme: 7 }), scrape(5000, { acme: 7 })], want: {} },
  ])('$name', ({ scrapes, want }) => {
    expect(Object.fromEntries(limitedInWindow(scrapes, 60_000))).toEqual(want);
  });

  it('prunes to the base of the next window and what came after it', () => {
    const all = [scrape(0, {}), scrape(5000, {}), scrape(10_000, {}), scrape(66_000, {})];
    expect(pruneScrapes(all, 60_000).map((s) => s.at)).toEqual([5000, 10_000, 66_000]);
    expect(pruneScrapes([], 60_000)).toEqual([]);
  });
});

describe('tenantRows (the Tasks panel table)', () => {
  it('keeps the backlog order, adds each tenant refusals, then refused-only tenants, most refused first', () => {
    const backlog = [{ tenant: 'acme', queued: 9, running: 2 }, { tenant: 'globex', queued: 0, running: 1 }];
    const limited = new Map([['globex', 3], ['initech', 4], ['umbrella', 12], ['bigco', 4]]);
    expect(tenantRows(backlog, limited, 2)).toEqual([
      { tenant: 'acme', queued: 9, running: 2, limitedPerMin: 0 },
      { tenant: 'globex', queued: 0, running: 1, limitedPerMin: 3 },
      { tenant: 'umbrella', queued: 0, running: 0, limitedPerMin: 12 },
      { tenant: 'bigco', queued: 0, running: 0, limitedPerMin: 4 },
    ]);
    expect(tenantRows([], new Map(), 10)).toEqual([]);
  });
});

describe('tenantsLine (drover top)', () => {
  it('puts each tenant on one line, refusals only when there are some', () => {
    expect(tenantsLine([{ tenant: 'acme', queued: 9, running: 2, limitedPerMin: 0 }, { tenant: 'umbrella', queued: 0, running: 0, limitedPerMin: 12 }]))
      .toBe('tenants acme 9q/2r  umbrella 0q/0r 12 limited/min');
  });
});

import { describe, expect, it } from 'vitest';
import { decisionInBatch } from '../../../src/http/api/rate-limit.ts';
import { gcra, gcraBatch } from '../../../src/store/gcra.ts';

// A child takes the requests of one tenant that arrive in one turn in a single store call; each
// request must get the answer it would have got from a take of its own, in arrival order.
describe('rate-limit decisions for requests taken at once', () => {
  it.each([
    // [rate/s, burst, stored TAT relative to now (null: no bucket), count]
    [2, 5, null, 3],
    [2, 5, null, 7],
    [2, 5, 1500, 4],
    [2, 5, 2500, 2],
    [20, 40, null, 64],
    [1000, 1000, 900, 300],
    [1, 1, null, 3],
  ])('rate %d/s, burst %d, stored TAT %s, %d requests', (ratePerSec, burst, stored, count) => {
    const limit = { ratePerSec, burst };
    const now = 1_000_000;
    const storedTat = stored === null ? null : now + stored;
    const batch = gcraBatch(storedTat, limit, now, count);
    let tat = storedTat;
    for (let i = 0; i < count; i++) {
      const own = gcra(tat, limit, now);
      if (own.result.allowed) tat = own.tat;
      const shared = decisionInBatch({ ...batch.result, taken: batch.taken }, count, i, 1000 / ratePerSec);
      expect([shared.allowed, shared.remaining, shared.retryAfterMs]).toEqual([own.result.allowed, own.result.remaining, own.result.retryAfterMs]);
      expect(Math.abs(shared.resetMs - own.result.resetMs)).toBeLessThanOrEqual(1);
    }
    expect(batch.tat).toBe(tat ?? now);
  });
});

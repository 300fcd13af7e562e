// The memory guard's decision: replace a ready child over max_rss_mb gracefully, kill any
// child (draining too) over the hard limit at once.
import { describe, expect, it } from 'vitest';
import { memoryVerdict, rssHardLimitMb, type MemoryLimits } from '../../../src/supervisor/memory.ts';

const MB = 2 ** 20;
const auto: MemoryLimits = { max_rss_mb: 1000, max_rss_hard_mb: 'auto' };

describe('rssHardLimitMb', () => {
  it.each([
    [auto, 1500],
    [{ max_rss_mb: 0, max_rss_hard_mb: 'auto' }, 0],
    [{ max_rss_mb: 1000, max_rss_hard_mb: 1200 }, 1200],
    [{ max_rss_mb: 1000, max_rss_hard_mb: 0 }, 0],
  ] as [MemoryLimits, number][])('%o → %i MiB', (limits, mb) => {
    expect(rssHardLimitMb(limits)).toBe(mb);
  });
});

describe('memoryVerdict', () => {
  it.each([
    // rss MiB, state, already replacing, limits → verdict
    [900, 'ready', false, auto, 'ok'],
    [1001, 'ready', false, auto, 'replace'],
    [1001, 'ready', true, auto, 'ok'],
    [1001, 'draining', false, auto, 'ok'],
    [1501, 'draining', false, auto, 'kill'],
    [1501, 'ready', true, auto, 'kill'],
    [1501, 'ready', false, auto, 'kill'],
    [5000, 'ready', false, { max_rss_mb: 0, max_rss_hard_mb: 'auto' }, 'ok'],
    [5000, 'draining', false, { max_rss_mb: 0, max_rss_hard_mb: 3000 }, 'kill'],
    [1100, 'ready', false, { max_rss_mb: 1000, max_rss_hard_mb: 0 }, 'replace'],
  ] as [number, 'ready' | 'draining', boolean, MemoryLimits, string][])('%i MiB, %s, replacing %s, %o → %s', (rss, state, replacing, limits, verdict) => {
    expect(memoryVerdict(rss * MB, state, replacing, limits)).toBe(verdict);
  });
});

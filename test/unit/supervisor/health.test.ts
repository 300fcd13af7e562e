// The health checks: a child not ready in time or silent too long is replaced; the memory
// guard replaces a ready child over max_rss_mb gracefully and kills any child (draining too)
// over the hard limit at once.
import { describe, expect, it } from 'vitest';
import { checkHealth, memoryVerdict, rssHardLimitMb, type HealthAction, type HealthLimits, type MemoryLimits, type WatchedChild } from '../../../src/supervisor/health.ts';

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

describe('checkHealth', () => {
  const NOW = 1_000_000;
  const limits: HealthLimits = { ready_timeout: 30, hang_timeout: 10, max_rss_mb: 1000, max_rss_hard_mb: 'auto' };
  const child = (over: Partial<WatchedChild>): WatchedChild => ({
    id: 1, state: 'ready', startedAt: NOW - 60_000, lastSeen: NOW - 1000, rss: 100 * MB, isReplacement: false, replacingForMemory: false, ...over,
  });
  it.each<[string, Partial<WatchedChild>, HealthAction[]]>([
    ['a healthy ready child', {}, []],
    ['a child starting within ready_timeout', { state: 'starting', startedAt: NOW - 29_000 }, []],
    ['a child starting past ready_timeout', { state: 'starting', startedAt: NOW - 31_000 }, [{ type: 'ready-timeout', id: 1 }]],
    ['a replacement past ready_timeout (its reload waits with its own timeout)', { state: 'starting', startedAt: NOW - 31_000, isReplacement: true }, []],
    ['a ready child silent past hang_timeout', { lastSeen: NOW - 12_400 }, [{ type: 'hung', id: 1, silentS: 12 }]],
    ['a draining child silent past hang_timeout (it is on its way out)', { state: 'draining', lastSeen: NOW - 60_000 }, []],
    ['a hung child over the hard limit: hang first', { lastSeen: NOW - 60_000, rss: 2000 * MB }, [{ type: 'hung', id: 1, silentS: 60 }]],
    ['a ready child over max_rss_mb', { rss: 1001 * MB }, [{ type: 'memory-replace', id: 1, rss: 1001 * MB }]],
    ['a ready child over max_rss_mb already being replaced', { rss: 1001 * MB, replacingForMemory: true }, []],
    ['a ready child over the hard limit', { rss: 1501 * MB }, [{ type: 'memory-kill', id: 1, rss: 1501 * MB, hardLimitMb: 1500, counted: true }]],
    ['a draining child over the hard limit (its restart was counted when it began to drain)', { state: 'draining', rss: 1501 * MB }, [{ type: 'memory-kill', id: 1, rss: 1501 * MB, hardLimitMb: 1500, counted: false }]],
    ['a starting child over the hard limit (no report is trusted before ready)', { state: 'starting', startedAt: NOW, rss: 5000 * MB }, []],
  ])('%s', (_, over, actions) => {
    expect(checkHealth([child(over)], NOW, limits)).toEqual(actions);
  });

  it('judges every child on its own, in order', () => {
    const children = [child({ id: 1 }), child({ id: 2, lastSeen: NOW - 11_000 }), child({ id: 3, rss: 1200 * MB })];
    expect(checkHealth(children, NOW, limits).map((a) => [a.type, a.id])).toEqual([['hung', 2], ['memory-replace', 3]]);
  });
});

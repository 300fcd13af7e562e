// The executor's small rules: how a failure is recorded, what a turn adds to its session, and
// how a provider's per-child limits are shared between threads.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LlmError, httpError } from '../../../src/agent/errors.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { failureOutcome } from '../../../src/worker-pool/errors.ts';
import { THREAD_YOUNG_GENERATION_MB, childNodeOptions, heapGrowingFlag, inheritedNodeOptions, threadHeapMb, threadResourceLimits } from '../../../src/worker-pool/heap.ts';
import { perThread } from '../../../src/worker-pool/index.ts';
import { assistantMessage, historyOf, userMessage } from '../../../src/worker-pool/session.ts';

describe('failureOutcome', () => {
  it('retries transient LLM failures, carrying Retry-After, and not the others', () => {
    expect(failureOutcome(httpError('openai', 429, 'slow down', 3000))).toEqual({
      ok: false, retryable: true, retryAfterMs: 3000, error: { code: 'LLM_HTTP_429', message: 'provider openai answered 429: slow down' },
    });
    expect(failureOutcome(httpError('openai', 400, 'bad'))).toMatchObject({ retryable: false, error: { code: 'LLM_HTTP_400' } });
    expect(failureOutcome(new LlmError('LLM_TIMEOUT', 'slow'))).toMatchObject({ retryable: true, error: { code: 'LLM_TIMEOUT' } });
  });

  it("keeps an agent's own code, retries unless it says retryable: false", () => {
    const coded = Object.assign(new Error('card declined'), { code: 'PAYMENT_DECLINED', retryable: false });
    expect(failureOutcome(coded)).toEqual({ ok: false, retryable: false, error: { code: 'PAYMENT_DECLINED', message: 'card declined' } });
    expect(failureOutcome(new TypeError('x is undefined'))).toEqual({ ok: false, retryable: true, error: { code: 'AGENT_ERROR', message: 'x is undefined' } });
    expect(failureOutcome('a string')).toMatchObject({ retryable: true, error: { code: 'AGENT_ERROR', message: 'agent threw "a string"' } });
  });

  it('names the abort rather than whatever the agent threw when its signal fired', () => {
    const thrown = new DOMException('aborted', 'AbortError');
    expect(failureOutcome(thrown, 'timeout')).toMatchObject({ retryable: true, error: { code: 'TASK_TIMEOUT' } });
    expect(failureOutcome(thrown, 'cancel')).toMatchObject({ retryable: false, error: { code: 'TASK_CANCELLED' } });
    expect(failureOutcome(thrown, 'drain')).toMatchObject({ error: { code: 'TASK_ABORTED' } });
  });

  it('clips very long messages', () => {
    const out = failureOutcome(new Error('x'.repeat(10_000)));
    expect(!out.ok && out.error.message.length).toBeLessThan(2100);
  });
});

describe('session messages', () => {
  it('takes the user message from a string or a content field, and the reply likewise', () => {
    expect(userMessage('hi')).toEqual({ role: 'user', content: 'hi' });
    expect(userMessage({ content: 'hi', extra: 1 })).toEqual({ role: 'user', content: 'hi' });
    expect(userMessage({ message: 'hi' })).toEqual({ role: 'user', content: 'hi' });
    expect(userMessage({ role: 'user', content: 'hi', name: 'ann' })).toEqual({ role: 'user', content: 'hi', name: 'ann' });
    expect(assistantMessage({ content: 'hello', tokens: 3 })).toEqual({ role: 'assistant', content: 'hello' });
    expect(assistantMessage({ answer: 42 })).toEqual({ role: 'assistant', content: '{"answer":42}' });
  });

  it('shows the agent only well-formed messages', () => {
    expect(historyOf([{ role: 'user', content: 'a' }, 'junk', { role: 'assistant' }, null])).toEqual([{ role: 'user', content: 'a' }]);
  });
});

describe('perThread', () => {
  it("divides a provider's per-child limits between the threads, at least one each", () => {
    const mock = { ...defaultConfig().llm.providers.mock!, connections: 64, max_concurrency: 256, tokens_per_minute: 90_000 };
    expect(perThread({ mock }, 3).mock).toMatchObject({ connections: 21, max_concurrency: 85, tokens_per_minute: 30_000 });
    expect(perThread({ mock: { ...mock, connections: 2, tokens_per_minute: 0 } }, 4).mock).toMatchObject({ connections: 1, tokens_per_minute: 0 });
  });
});

describe('threadHeapMb', () => {
  it.each([
    // setting, max_rss_mb, threads → MiB per thread (0 = V8's default)
    ['auto', 2048, 2, 1024],
    ['auto', 2048, 1, 2048],
    ['auto', 300, 8, 64],
    ['auto', 0, 2, 0],
    [512, 2048, 2, 512],
    [0, 2048, 2, 0],
  ] as const)('%s with max_rss_mb %i and %i threads is %i', (setting, maxRss, threads, mb) => {
    expect(threadHeapMb(setting, maxRss, threads)).toBe(mb);
  });
});

describe('childNodeOptions and inheritedNodeOptions', () => {
  it.each([
    // the supervisor's NODE_OPTIONS, executor.main_semi_space_mb → the child's, and what its agents' processes get back
    [undefined, 8, '--max-semi-space-size=8', undefined],
    ['', 8, '--max-semi-space-size=8', undefined],
    ['--max-old-space-size=3072', 8, '--max-old-space-size=3072 --max-semi-space-size=8', '--max-old-space-size=3072'],
    // the operator's own semi-space flag comes first, so the setting wins; theirs is given back
    [' --max-semi-space-size=32 ', 4, '--max-semi-space-size=32 --max-semi-space-size=4', '--max-semi-space-size=32'],
    [undefined, 0, undefined, undefined],
    ['--max-old-space-size=3072', 0, '--max-old-space-size=3072', '--max-old-space-size=3072'],
  ] as const)('%j with %i MiB → %j → %j', (inherited, mb, child, back) => {
    expect(childNodeOptions(inherited, mb)).toBe(child);
    expect(inheritedNodeOptions(child, mb)).toBe(back);
  });

  it('leaves NODE_OPTIONS alone that the supervisor did not extend', () => {
    expect(inheritedNodeOptions('--max-old-space-size=3072', 8)).toBe('--max-old-space-size=3072');
    expect(inheritedNodeOptions(undefined, 8)).toBeUndefined();
  });
});

describe('heapGrowingFlag', () => {
  it.each([
    [150, '--heap-growing-percent=150'],
    [0, null],
  ] as const)('executor.heap_growing_percent %i', (percent, flag) => {
    expect(heapGrowingFlag(percent)).toBe(flag);
  });

  // A child sets it once it runs (not on its command line, which a single executable ignores):
  // this checks V8 still takes the flag then. Less growth between full collections means more
  // of them for the same garbage (their count is steadier than a peak heap on a busy machine).
  it('set in a running process, makes V8 collect the same garbage more often', () => {
    const fullCollections = (percent: number) => Number(execFileSync(process.execPath, ['-e', `
      const v8 = require('node:v8');
      const flag = ${JSON.stringify(heapGrowingFlag(percent))};
      if (flag) v8.setFlagsFromString(flag);
      const gc = new v8.GCProfiler();
      gc.start();
      const live = [];
      for (let i = 0; i < 4_000_000; i++) {
        live.push({ a: i, b: 'x' + i, c: [i, i + 1] }); // each lives 150,000 allocations, as tasks waiting on a call
        if (live.length > 150_000) live.splice(0, 1000);
      }
      console.log(gc.stop().statistics.filter((s) => s.gcType === 'MarkSweepCompact').length);`], { encoding: 'utf8' }));
    const v8s = fullCollections(0);
    expect(fullCollections(20)).toBeGreaterThanOrEqual(2 * Math.max(1, v8s));
  });
});

describe('threadResourceLimits', () => {
  it.each([
    // old-generation MiB (0 = V8's default) → the thread's limits: the nursery is always capped
    [0, { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB }],
    [1024, { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB, maxOldGenerationSizeMb: 1024 }],
  ] as const)('old generation %i MiB', (oldMb, limits) => {
    expect(threadResourceLimits(oldMb)).toEqual(limits);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { ask, rejection, rig, type Rig } from './setup.ts';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('llm client: per-provider budget', () => {
  it('never has more than max_concurrency requests at the provider; the rest wait, none fail', async () => {
    r = await rig({ max_concurrency: 3, connections: 10 }, { latencyMs: 60 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => r!.llm.chat(ask(`n${i}`))));
    expect(results.map((x) => x.content)).toEqual(Array.from({ length: 12 }, (_, i) => `echo: n${i}`));
    expect(r.mock.stats.maxInFlight).toBe(3);
    expect(r.llm.stats().mock!).toMatchObject({ inFlight: 0, waiting: 0 });
  });

  it('never opens more than `connections` sockets worth of concurrent requests', async () => {
    r = await rig({ max_concurrency: 100, connections: 2 }, { latencyMs: 40 });
    await Promise.all(Array.from({ length: 8 }, () => r!.llm.chat(ask('x'))));
    expect(r.mock.stats.maxInFlight).toBe(2);
  });

  it('delays calls once the tokens-per-minute budget is spent', async () => {
    // 6000 tokens/minute = 100 a second. The first call's prompt (~6000 tokens) empties the
    // bucket; the second (~100 tokens) must wait about a second for the refill.
    r = await rig({ tokens_per_minute: 6_000 });
    const big = { messages: [{ role: 'system' as const, content: 'x'.repeat(24_000) }, { role: 'user' as const, content: 'hi' }] };
    const t0 = performance.now();
    await r.llm.chat(big);
    const first = performance.now() - t0;
    await r.llm.chat(ask('y'.repeat(400)));
    const second = performance.now() - t0 - first;
    expect(first).toBeLessThan(300);
    expect(second).toBeGreaterThanOrEqual(900);
    expect(r.mock.stats.requests).toBe(2);
  });

  it('a caller waiting for budget leaves the line when its signal fires, without reaching the provider', async () => {
    r = await rig({ tokens_per_minute: 600 });
    await r.llm.chat(ask('z'.repeat(2_400))); // spends the minute's budget
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    expect((await rejection(r.llm.chat(ask('again'), { signal: ac.signal }))).code).toBe('LLM_ABORTED');
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(r.mock.stats.requests).toBe(1);
    await expect.poll(() => r!.llm.stats().mock!.waiting).toBe(0);
  });
});

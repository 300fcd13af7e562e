import { afterEach, describe, expect, it } from 'vitest';
import { createLlmClient, type LlmRequestEvent } from '../../../src/agent/llm/client.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { ask, rejection, rig, type Rig } from './setup.ts';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('llm client: answers', () => {
  it('chat returns the provider\'s content, model and usage', async () => {
    r = await rig();
    const res = await r.llm.chat(ask('hello world'));
    expect(res).toMatchObject({ content: 'echo: hello world', finishReason: 'stop', model: 'mock-1', provider: 'mock' });
    expect(res.usage).toEqual({ promptTokens: 3, completionTokens: 5, totalTokens: 8, estimated: false });
    expect(r.llm.stats().mock!).toMatchObject({ requests: { ok: 1 }, tokensIn: 3, tokensOut: 5, retries: 0 });
  });

  it('stream yields several deltas that join to the answer, then done carries usage', async () => {
    r = await rig({}, { latencyMs: 40 });
    const s = r.llm.stream(ask('one two three four five'));
    const deltas: string[] = [];
    for await (const d of s) deltas.push(d);
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.join('')).toBe('echo: one two three four five');
    const done = await s.done;
    expect(done.content).toBe('echo: one two three four five');
    expect(done.usage.estimated).toBe(false);
    expect(done.usage.completionTokens).toBe(Math.ceil(done.content.length / 4));
    expect(r.mock.stats.streams).toBe(1);
  });

  it('sends the key named by api_key_env as a bearer token', async () => {
    r = await rig();
    const cfg = { ...defaultConfig().llm.providers.mock!, base_url: r.mock.url, api_key_env: 'TEST_LLM_KEY' };
    const llm = createLlmClient({ p: cfg }, 'p', { env: { TEST_LLM_KEY: 'sk-test' } });
    await llm.chat(ask('x'));
    await llm.close();
    expect(r.mock.stats.lastAuthorization).toBe('Bearer sk-test');
  });

  it('refuses configs that cannot work, with stable codes', async () => {
    const base = defaultConfig().llm.providers.mock!;
    expect(() => createLlmClient({ mock: base }, 'mock', { env: {} })).toThrow(expect.objectContaining({ code: 'LLM_CONFIG' }));
    const keyed = { ...base, base_url: 'http://127.0.0.1:9/v1', api_key_env: 'NOPE_NOT_SET' };
    expect(() => createLlmClient({ k: keyed }, 'k', { env: {} })).toThrow(expect.objectContaining({ code: 'LLM_CONFIG' }));
    r = await rig();
    expect((await rejection(r.llm.chat(ask('x'), { provider: 'other' }))).code).toBe('LLM_UNKNOWN_PROVIDER');
  });

  it('a 200 that is not a completion is LLM_BAD_RESPONSE, not retried', async () => {
    r = await rig();
    r.mock.script({ body: '{"nothing":"here"}' });
    expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_BAD_RESPONSE');
    expect(r.mock.stats.requests).toBe(1);
  });

  it('a refused connection is LLM_CONNECTION', async () => {
    r = await rig();
    const url = r.mock.url;
    await r.mock.close();
    const cfg = { ...defaultConfig().llm.providers.mock!, base_url: url, max_retries: 0 };
    const llm = createLlmClient({ mock: cfg }, 'mock', { env: {} });
    expect((await rejection(llm.chat(ask('x')))).code).toBe('LLM_CONNECTION');
    await llm.close();
  });

  it('reports each finished call to onRequest', async () => {
    const events: LlmRequestEvent[] = [];
    r = await rig({ max_retries: 0 }, {}, { onRequest: (e) => events.push(e) });
    r.mock.script({ status: 400 });
    await rejection(r.llm.chat(ask('x')));
    await r.llm.chat(ask('abcd'));
    expect(events.map((e) => e.outcome)).toEqual(['LLM_HTTP_400', 'ok']);
    expect(events[1]).toMatchObject({ provider: 'mock', model: 'mock-1', tokensIn: 1, tokensOut: 3 });
  });
});

describe('llm client: retries', () => {
  it('waits out Retry-After: 1 on a 429, then succeeds', async () => {
    r = await rig({ max_retries: 2 });
    r.mock.script({ status: 429, headers: { 'retry-after': '1' } });
    const t0 = performance.now();
    const res = await r.llm.chat(ask('later'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(res.content).toBe('echo: later');
    expect(r.mock.stats.byStatus).toEqual({ 200: 1, 429: 1 });
    expect(r.llm.stats().mock!.retries).toBe(1);
  });

  it('retries 5xx with backoff and gives up after max_retries with the last status', async () => {
    r = await rig({ max_retries: 2, breaker_failures: 100 });
    r.mock.script({ status: 500 }, { status: 502 });
    expect((await r.llm.chat(ask('a'))).content).toBe('echo: a');
    r.mock.script({ status: 503 }, { status: 503 }, { status: 503 });
    const err = await rejection(r.llm.chat(ask('b')));
    expect(err.code).toBe('LLM_HTTP_503');
    expect(r.mock.stats.requests).toBe(6);
    expect(r.llm.stats().mock!.retries).toBe(4);
  });

  it('does not retry a 400', async () => {
    r = await rig({ max_retries: 3 });
    r.mock.script({ status: 400 });
    expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_HTTP_400');
    expect(r.mock.stats.requests).toBe(1);
  });

  it('fails at once, with retryAfterMs, when Retry-After is longer than it will wait', async () => {
    r = await rig({ max_retries: 3 }, {}, { maxRetryAfterMs: 5_000 });
    r.mock.script({ status: 429, headers: { 'retry-after': '120' } });
    const err = await rejection(r.llm.chat(ask('x')));
    expect(err).toMatchObject({ code: 'LLM_HTTP_429', retryAfterMs: 120_000 });
    expect(r.mock.stats.requests).toBe(1);
  });
});

describe('llm client: circuit breaker', () => {
  it('opens after breaker_failures 5xx, fails fast without reaching the server, half-opens after the cooldown', async () => {
    r = await rig({ max_retries: 0, breaker_failures: 3, breaker_cooldown: 0.3 });
    r.mock.script({ status: 500 }, { status: 500 }, { status: 500 });
    for (let i = 0; i < 3; i++) expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_HTTP_500');
    expect(r.llm.stats().mock!.breakerState).toBe('open');

    const t0 = performance.now();
    expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_BREAKER_OPEN');
    expect(performance.now() - t0).toBeLessThan(50);
    expect(r.mock.stats.requests).toBe(3);

    await new Promise((res) => setTimeout(res, 350));
    r.mock.script({ status: 500 }); // the half-open probe fails: open again at once
    expect((await rejection(r.llm.chat(ask('probe')))).code).toBe('LLM_HTTP_500');
    expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_BREAKER_OPEN');
    expect(r.mock.stats.requests).toBe(4);

    await new Promise((res) => setTimeout(res, 350));
    expect((await r.llm.chat(ask('back'))).content).toBe('echo: back');
    expect(r.llm.stats().mock!).toMatchObject({ breakerState: 'closed', breakerOpens: 2 });
  });

  it('lets one trial call through after the cooldown; others fail fast while it runs', async () => {
    r = await rig({ max_retries: 0, breaker_failures: 1, breaker_cooldown: 0.2 });
    r.mock.script({ status: 500 });
    expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_HTTP_500');
    await new Promise((res) => setTimeout(res, 250));
    r.mock.script({ latencyMs: 300 });
    const trial = r.llm.chat(ask('trial'));
    await expect.poll(() => r!.mock.stats.requests).toBe(2);
    expect(r.llm.stats().mock!.breakerState).toBe('half-open');
    expect((await rejection(r.llm.chat(ask('meanwhile')))).code).toBe('LLM_BREAKER_OPEN');
    expect((await trial).content).toBe('echo: trial');
    expect(r.llm.stats().mock!.breakerState).toBe('closed');
    expect((await r.llm.chat(ask('after'))).content).toBe('echo: after');
    expect(r.mock.stats.requests).toBe(3);
  });

  it('stops a retry loop when the breaker opens under it', async () => {
    r = await rig({ max_retries: 10, breaker_failures: 2, breaker_cooldown: 5 });
    r.mock.script(...Array.from({ length: 10 }, () => ({ status: 500 })));
    expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_BREAKER_OPEN');
    expect(r.mock.stats.requests).toBe(2);
  });

  it('counts timeouts as provider faults', async () => {
    r = await rig({ timeout: 0.1, max_retries: 0, breaker_failures: 2, breaker_cooldown: 5 });
    r.mock.script({ latencyMs: 5_000 }, { latencyMs: 5_000 });
    for (let i = 0; i < 2; i++) expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_TIMEOUT');
    expect(r.llm.stats().mock!.breakerState).toBe('open');
    expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_BREAKER_OPEN');
  });

  it('does not count 429s as provider faults', async () => {
    r = await rig({ max_retries: 0, breaker_failures: 2 });
    r.mock.script({ status: 429 }, { status: 429 }, { status: 429 });
    for (let i = 0; i < 3; i++) expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_HTTP_429');
    expect(r.llm.stats().mock!.breakerState).toBe('closed');
  });
});

describe('llm client: time limits and cancellation', () => {
  it('times out a slow answer with LLM_TIMEOUT and closes the request', async () => {
    r = await rig({ timeout: 0.2, max_retries: 0 });
    r.mock.script({ latencyMs: 5_000 });
    const t0 = performance.now();
    expect((await rejection(r.llm.chat(ask('x')))).code).toBe('LLM_TIMEOUT');
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1_000);
    await expect.poll(() => r!.mock.stats.aborted).toBe(1);
  });

  it('retries a timeout, then succeeds', async () => {
    r = await rig({ timeout: 0.2, max_retries: 1 });
    r.mock.script({ latencyMs: 5_000 });
    expect((await r.llm.chat(ask('again'))).content).toBe('echo: again');
    expect(r.mock.stats.requests).toBe(2);
  });

  it('times out a stream whose body stalls after the first chunk', async () => {
    r = await rig({ timeout: 0.3, max_retries: 0 });
    r.mock.script({ latencyMs: 5_000, firstByteMs: 10 });
    const t0 = performance.now();
    const s = r.llm.stream(ask('a b c d e f'));
    const err = await rejection((async () => {
      for await (const _ of s) { /* drain */ }
    })());
    // The headers came after 10 ms; only the body's deadline can end this before 5 s.
    expect(err.code).toBe('LLM_TIMEOUT');
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect((await rejection(s.done)).code).toBe('LLM_TIMEOUT');
  });

  it('aborts an in-flight call when the signal fires', async () => {
    r = await rig({}, { latencyMs: 5_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    expect((await rejection(r.llm.chat(ask('x'), { signal: ac.signal }))).code).toBe('LLM_ABORTED');
    expect(performance.now() - t0).toBeLessThan(1_000);
    await expect.poll(() => r!.mock.stats.aborted).toBe(1);
  });

  it('aborts while waiting out a Retry-After', async () => {
    r = await rig({ max_retries: 3 });
    r.mock.script({ status: 429, headers: { 'retry-after': '30' } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = performance.now();
    expect((await rejection(r.llm.chat(ask('x'), { signal: ac.signal }))).code).toBe('LLM_ABORTED');
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(r.mock.stats.requests).toBe(1);
  });

  it('a reader that stops early closes the stream and frees its slot', async () => {
    r = await rig({ max_concurrency: 1 }, { latencyMs: 200 });
    const s = r.llm.stream(ask('w1 w2 w3 w4 w5 w6 w7 w8 w9'));
    for await (const _ of s) break;
    expect((await rejection(s.done)).code).toBe('LLM_ABORTED');
    // With one slot, this only gets through if the abandoned stream gave its slot back.
    expect((await r.llm.chat(ask('next'))).content).toBe('echo: next');
    expect(r.llm.stats().mock!.inFlight).toBe(0);
  });
});

describe('llm client: connections', () => {
  it('over HTTP/2 (h2c), 1,000 concurrent chat calls share a handful of connections', async () => {
    r = await rig({ http2: 'h2c', max_concurrency: 1000, connections: 64 }, { http2: true, latencyMs: 300 });
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => r!.llm.chat(ask(`q${i}`))));
    expect(answers.every((a, i) => a.content === `echo: q${i}`)).toBe(true);
    expect(r.mock.stats.requests).toBe(1000);
    // undici puts up to 100 streams on one connection: 1,000 calls need 10, not 64 or 1,000.
    expect(r.mock.stats.connections).toBeGreaterThan(0);
    expect(r.mock.stats.connections).toBeLessThanOrEqual(10);
  }, 60_000);

  it('over HTTP/1.1, 200 concurrent calls queue on a pool of `connections` sockets', async () => {
    r = await rig({ http2: 'off', max_concurrency: 1000, connections: 8 }, { latencyMs: 50 });
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => r!.llm.chat(ask(`q${i}`))));
    expect(answers.every((a, i) => a.content === `echo: q${i}`)).toBe(true);
    expect(r.mock.stats.connections).toBeLessThanOrEqual(8);
    expect(r.mock.stats.maxInFlight).toBeLessThanOrEqual(8);
  }, 60_000);

  it('a stream over HTTP/2 yields its deltas and ends', async () => {
    r = await rig({ http2: 'h2c' }, { http2: true, latencyMs: 40 });
    const s = r.llm.stream(ask('one two three four five'));
    const deltas: string[] = [];
    for await (const d of s) deltas.push(d);
    expect(deltas.join('')).toBe('echo: one two three four five');
    expect((await s.done).usage.estimated).toBe(false);
    expect(r.mock.stats.connections).toBe(1);
  });
});

import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createLlmClient } from '../../../src/agent/llm/client.ts';
import { startConfiguredMock, startMockLlm, type MockLlm } from '../../../src/agent/mock-llm.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';

let mock: MockLlm | undefined;
let pool: Pool | undefined;
afterEach(async () => {
  await mock?.close();
  await pool?.close();
  mock = pool = undefined;
});

async function startOn(opts: Parameters<typeof startMockLlm>[0] = {}, connections = 8) {
  mock = await startMockLlm(opts);
  // Over HTTP/2 a connection carries many requests: `connections` of them at most, as over HTTP/1.1.
  pool = new Pool(new URL(mock.url).origin, opts.http2
    ? { connections: 1, allowH2: true, useH2c: true, h2Options: { useH2c: true, maxConcurrentStreams: connections } } as Pool.Options
    : { connections });
  return mock;
}

async function post(body: unknown) {
  const res = await pool!.request({
    method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const hello = { model: 'mock-1', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }] };

describe.each([{ wire: 'HTTP/1.1', http2: false }, { wire: 'HTTP/2 (h2c)', http2: true }])('mock LLM provider over $wire', ({ http2 }) => {
  const start = (opts: Parameters<typeof startMockLlm>[0] = {}, connections?: number) => startOn({ ...opts, http2 }, connections);

  it('listens on loopback and lists its model', async () => {
    const m = await start();
    expect(m.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const res = await pool!.request({ method: 'GET', path: '/v1/models' });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { data: Array<{ id: string }> }).data.map((d) => d.id)).toEqual(['mock-1']);
  });

  it('answers a chat completion with an echo of the last user message and its usage', async () => {
    await start();
    const res = await post(hello);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({
      object: 'chat.completion',
      model: 'mock-1',
      choices: [{ index: 0, message: { role: 'assistant', content: 'echo: hello there' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
    });
  });

  it('streams chat.completion.chunk events, then usage, then [DONE]', async () => {
    const m = await start({ latencyMs: 30 });
    const res = await post({ ...hello, stream: true, stream_options: { include_usage: true } });
    expect(res.headers['content-type']).toBe('text/event-stream');
    const events = res.text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('echo: hello there');
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(1);
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 });
    expect(m.stats.streams).toBe(1);
  });

  it('plays its script in order, then goes back to normal answers', async () => {
    const m = await start();
    m.script({ status: 429, headers: { 'retry-after': '1' } }, { status: 500 }, { content: 'scripted' });
    const a = await post(hello);
    expect([a.status, a.headers['retry-after'], JSON.parse(a.text).error.type]).toEqual([429, '1', 'rate_limit_error']);
    expect((await post(hello)).status).toBe(500);
    expect(JSON.parse((await post(hello)).text).choices[0].message.content).toBe('scripted');
    expect(JSON.parse((await post(hello)).text).choices[0].message.content).toBe('echo: hello there');
    expect(m.stats).toMatchObject({ requests: 4, byStatus: { 200: 2, 429: 1, 500: 1 } });
    m.reset();
    expect(m.stats.requests).toBe(0);
  });

  it('answers 503 at its failure rate', async () => {
    const rolls = [0.1, 0.9, 0.1, 0.9];
    const m = await start({ failureRate: 0.5, random: () => rolls.shift() ?? 0.9 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(hello)).status);
    expect(statuses).toEqual([503, 200, 503, 200]);
    expect(m.stats.byStatus).toEqual({ 200: 2, 503: 2 });
  });

  it('answers 400 to a body that is not a chat request, 404 elsewhere', async () => {
    await start();
    expect((await post('{not json')).status).toBe(400);
    expect((await post({ messages: 'no' })).status).toBe(400);
    const res = await pool!.request({ method: 'GET', path: '/v1/nothing' });
    expect(res.statusCode).toBe(404);
    await res.body.dump();
  });

  it('holds a thousand slow requests at once on timers and answers them all on time', async () => {
    const m = await start({ latencyMs: 1_200 }, 1_000);
    const t0 = performance.now();
    const all = await Promise.all(Array.from({ length: 1_000 }, (_, i) =>
      post({ messages: [{ role: 'user', content: `#${i}` }] })));
    const took = performance.now() - t0;
    expect(all.every((r, i) => r.status === 200 && JSON.parse(r.text).choices[0].message.content === `echo: #${i}`)).toBe(true);
    expect(m.stats.maxInFlight).toBe(1_000);
    expect(m.stats.connections).toBe(http2 ? 1 : 1_000);
    expect(took).toBeLessThan(5_000); // serialised answers would take 1000 × 1.2 s
  });

  it('counts a client that leaves before its answer, and close() ends pending answers', async () => {
    const m = await start({ latencyMs: 10_000 });
    const ac = new AbortController();
    const req = pool!.request({ method: 'POST', path: '/v1/chat/completions', body: JSON.stringify(hello), signal: ac.signal });
    await expect.poll(() => m.stats.inFlight).toBe(1);
    ac.abort();
    await expect(req).rejects.toThrow();
    await expect.poll(() => m.stats.aborted).toBe(1);
    expect(m.stats.inFlight).toBe(0);
    const pending = post(hello);
    await expect.poll(() => m.stats.inFlight).toBe(1);
    const t0 = performance.now();
    await m.close();
    mock = undefined;
    await expect(pending).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(1_000);
  });
});

describe('startConfiguredMock', () => {
  it('starts the mock for a `mock` provider without base_url, with its configured latency', async () => {
    const providers = defaultConfig().llm.providers;
    const started = await startConfiguredMock({ ...providers, mock: { ...providers.mock!, mock_latency_ms: 150 } });
    mock = started.mock;
    const llm = createLlmClient(started.providers, 'mock', { env: {} });
    const t0 = performance.now();
    expect((await llm.chat({ messages: [{ role: 'user', content: 'hi' }] })).content).toBe('echo: hi');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    await llm.close();
  });

  it('speaks HTTP/2 (h2c) to the client unless http2 is off, so concurrent calls share a few connections', async () => {
    const calls = async (http2: 'auto' | 'off') => {
      const started = await startConfiguredMock({ mock: { ...defaultConfig().llm.providers.mock!, mock_latency_ms: 300, http2 } });
      mock = started.mock;
      const llm = createLlmClient(started.providers, 'mock', { env: {} });
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => llm.chat({ messages: [{ role: 'user', content: `q${i}` }] })));
      await llm.close();
      const { connections, maxInFlight } = started.mock!.stats;
      await started.mock!.close();
      mock = undefined;
      return { ok: answers.filter((a, i) => a.content === `echo: q${i}`).length, connections, maxInFlight, http2: started.providers.mock!.http2 };
    };
    // Defaults: connections 64, max_concurrency 256. HTTP/1.1 puts one call on each connection.
    const auto = await calls('auto');
    expect(auto).toMatchObject({ ok: 200, http2: 'h2c', maxInFlight: 200 });
    expect(auto.connections).toBeLessThanOrEqual(3);
    const off = await calls('off');
    expect(off).toMatchObject({ ok: 200, http2: 'off', connections: 64, maxInFlight: 64 });
  });

  it('leaves a provider that has a base_url alone', async () => {
    const cfg = { ...defaultConfig().llm.providers.mock!, base_url: 'http://127.0.0.1:1/v1' };
    const started = await startConfiguredMock({ mock: cfg });
    expect(started.mock).toBeUndefined();
    expect(started.providers.mock).toBe(cfg);
  });
});

// LLM-client memory benchmark (not run in CI): memory per LLM call in flight with HTTP/1.1
// (one socket per call: connections = calls) against HTTP/2 (h2c, the default pool of 64, up to
// 100 calls per connection). The mock LLM runs in this process and answers in --latency ms; each
// round is a fresh client process (so rounds do not inherit each other's heap) that measures
// RSS and V8 heap when idle (after a warm-up call and a GC), fires N concurrent ctx.llm.chat
// calls, samples memory while they are all in flight, and reports the peak above idle.
// Rounds alternate HTTP/1.1 and HTTP/2; medians and ratios are printed.
//   node bench/llm-connections.ts [--calls 1000,5000] [--rounds 3] [--latency 2000]
// Everything listens on 127.0.0.1; the round process is ended by its pid if it overruns.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createLlmClient } from '../src/agent/llm/client.ts';
import { startMockLlm } from '../src/agent/mock-llm.ts';
import { defaultConfig } from '../src/config/defaults.ts';
import { median } from './lib/stats.ts';

type Mode = 'h1' | 'h2';
interface RoundResult { mode: Mode; calls: number; rssKb: number; heapKb: number; connections: number; ok: number; ms: number }

const { values: args } = parseArgs({
  options: {
    round: { type: 'string' },
    url: { type: 'string' },
    calls: { type: 'string', default: '1000,5000' },
    rounds: { type: 'string', default: '3' },
    latency: { type: 'string', default: '2000' },
  },
});

if (args.round) await round(args.round as Mode, Number(args.calls), args.url!);
else await main();

/** One measurement, in its own process: prints one JSON line. */
async function round(mode: Mode, calls: number, url: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const base = defaultConfig().llm.providers.mock!;
  const cfg = mode === 'h1'
    ? { ...base, base_url: url, http2: 'off' as const, connections: calls, max_concurrency: calls, max_retries: 0 }
    : { ...base, base_url: url, http2: 'h2c' as const, max_concurrency: calls, max_retries: 0 };
  const llm = createLlmClient({ mock: cfg }, 'mock', { env: {} });
  await llm.chat({ messages: [{ role: 'user', content: 'warm up' }] });
  gc();
  await new Promise((r) => setTimeout(r, 100));
  gc();
  const idle = process.memoryUsage();
  let peakRss = idle.rss;
  let peakHeap = idle.heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 50);
  const started = performance.now();
  const results = await Promise.allSettled(Array.from({ length: calls }, (_, i) =>
    llm.chat({ messages: [{ role: 'user', content: `question ${i}` }] })));
  const ms = performance.now() - started;
  clearInterval(sampler);
  await llm.close();
  const out: Omit<RoundResult, 'connections'> = {
    mode, calls, ms, ok: results.filter((r) => r.status === 'fulfilled').length,
    rssKb: (peakRss - idle.rss) / 1024, heapKb: (peakHeap - idle.heapUsed) / 1024,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  const sizes = args.calls.split(',').map(Number);
  const rounds = Number(args.rounds);
  const latencyMs = Number(args.latency);
  const mocks = {
    h1: await startMockLlm({ latencyMs }),
    h2: await startMockLlm({ latencyMs, http2: true }),
  };
  const all: RoundResult[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      for (const calls of sizes) {
        for (const mode of (i % 2 ? ['h2', 'h1'] : ['h1', 'h2']) as Mode[]) {
          const mock = mocks[mode];
          const before = mock.stats.connections;
          const r = await runRound(mode, calls, mock.url, latencyMs);
          const res = { ...r, connections: mock.stats.connections - before };
          all.push(res);
          console.log(`round ${i + 1} ${mode} ${calls} calls: ok ${res.ok}, ${res.connections} connections, ` +
            `RSS +${(res.rssKb / calls).toFixed(1)} KB/call, heap +${(res.heapKb / calls).toFixed(1)} KB/call, ${Math.round(res.ms)} ms`);
        }
      }
    }
  } finally {
    await mocks.h1.close();
    await mocks.h2.close();
  }
  console.log('\n| calls in flight | measure | HTTP/1.1 (median) | HTTP/2 h2c (median) | HTTP/2 ÷ HTTP/1.1 |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const calls of sizes) {
    const med = (mode: Mode, f: (r: RoundResult) => number) => median(all.filter((r) => r.mode === mode && r.calls === calls).map(f));
    const row = (label: string, f: (r: RoundResult) => number, digits: number) => {
      const a = med('h1', f);
      const b = med('h2', f);
      console.log(`| ${calls} | ${label} | ${a.toFixed(digits)} | ${b.toFixed(digits)} | ${(b / a).toFixed(2)} |`);
    };
    row('connections opened', (r) => r.connections, 0);
    row('RSS above idle per call (KB)', (r) => r.rssKb / calls, 1);
    row('V8 heap above idle per call (KB)', (r) => r.heapKb / calls, 1);
    row('time for all calls (ms)', (r) => r.ms, 0);
  }
}

function runRound(mode: Mode, calls: number, url: string, latencyMs: number): Promise<Omit<RoundResult, 'connections'>> {
  const child = spawn(process.execPath, ['--expose-gc', import.meta.filename, '--round', mode, '--calls', String(calls), '--url', url],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b));
  const overrun = setTimeout(() => child.kill('SIGKILL'), 60_000 + latencyMs * 5);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(overrun);
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!));
      else reject(new Error(`round ${mode} ${calls} exited with ${code}`));
    });
  });
}

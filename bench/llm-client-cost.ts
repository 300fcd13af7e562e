// LLM-client CPU benchmark (not run in CI): CPU per chat call with thousands in flight, drover's
// client (retry → budget → breaker → deadline, over undici's dispatcher) beside what it is built
// on: a bare undici Pool's request(), the Pool's dispatch() with the least handler that reads a
// JSON answer, and node:http2 sessions used directly. Each round is a fresh process per variant,
// keeping --inflight calls going against an h2c mock LLM in another process (answering in
// --latency ms) and measuring its own CPU over --seconds after a warm-up, and the V8 heap each
// call in flight holds (after a full collection, less the heap before the calls). Variants take
// turns; medians and ratios to bare undici are printed.
//   node bench/llm-client-cost.ts [--inflight 2000] [--rounds 3] [--latency 500] [--seconds 8]
// Everything listens on 127.0.0.1; every process started is ended by its pid (bench/lib/procs.ts).
import { connect } from 'node:http2';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { createLlmClient } from '../src/agent/llm/client.ts';
import { poolOptions } from '../src/agent/llm/provider.ts';
import { defaultConfig } from '../src/config/defaults.ts';
import { killEverything, startProcess, stopProcess, waitForLine } from './lib/procs.ts';
import { median } from './lib/stats.ts';

const VARIANTS = ['drover', 'undici', 'dispatch', 'http2'] as const;
type Variant = (typeof VARIANTS)[number];

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string' },
    url: { type: 'string' },
    inflight: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    latency: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '8' },
  },
});
const messages = [
  { role: 'system' as const, content: 'You are a concise assistant.' },
  { role: 'user' as const, content: 'what is drover?' },
];

if (args.variant) await round(args.variant as Variant, args.url!);
else await main();

/** One variant in this process: prints `calls/s µs-per-call`. */
async function round(variant: Variant, url: string): Promise<void> {
  const cfg = { ...defaultConfig().llm.providers.mock!, base_url: url, http2: 'h2c' as const, max_concurrency: 1_000_000 };
  const body = JSON.stringify({ model: cfg.model, messages });
  const headers = { 'content-type': 'application/json' };
  let call: () => Promise<unknown>;
  if (variant === 'drover') {
    const llm = createLlmClient({ mock: cfg }, 'mock', { env: {} });
    // An agent passes ctx.signal, which every task has.
    call = () => llm.chat({ messages }, { signal: new AbortController().signal });
  } else if (variant === 'undici') {
    const pool = new Pool(new URL(url).origin, poolOptions(cfg));
    call = async () => (await pool.request({ method: 'POST', path: '/v1/chat/completions', headers, body })).body.json();
  } else if (variant === 'dispatch') {
    const pool = new Pool(new URL(url).origin, poolOptions(cfg));
    class Handler {
      chunks: Buffer[] = [];
      readonly done: (err: Error | null, v?: unknown) => void;
      constructor(done: (err: Error | null, v?: unknown) => void) {
        this.done = done;
      }
      onRequestStart() {}
      // undici 8 refuses a handler without it.
      onResponseStart() {}
      onResponseData(_c: unknown, chunk: Buffer) {
        this.chunks.push(chunk);
      }
      onResponseEnd() {
        this.done(null, JSON.parse(Buffer.concat(this.chunks).toString()));
      }
      onResponseError(_c: unknown, err: Error) {
        this.done(err);
      }
    }
    call = () => new Promise((resolve, reject) => {
      pool.dispatch({ method: 'POST', path: '/v1/chat/completions', headers, body }, new Handler((err, v) => (err ? reject(err) : resolve(v))));
    });
  } else {
    const sessions = Array.from({ length: cfg.connections }, () => connect(url));
    let next = 0;
    call = () => new Promise((resolve, reject) => {
      const s = sessions[next++ % sessions.length]!.request({ ':method': 'POST', ':path': '/v1/chat/completions', ...headers });
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
      s.on('error', reject);
      s.end(body);
    });
  }
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  let done = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      await call();
      done++;
    }
  };
  for (let i = 0; i < Number(args.inflight); i++) void loop();
  await new Promise((r) => setTimeout(r, 4000));
  const cpu0 = process.cpuUsage();
  const done0 = done;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, Number(args.seconds) * 1000));
  const cpu = process.cpuUsage(cpu0);
  const calls = done - done0;
  gc();
  const heapPerCall = (process.memoryUsage().heapUsed - heap0) / Number(args.inflight) / 1024;
  console.log(`${Math.round(calls / ((performance.now() - t0) / 1000))} ${((cpu.user + cpu.system) / calls).toFixed(1)} ${heapPerCall.toFixed(1)}`);
  stop = true;
  process.exit(0);
}

async function main(): Promise<void> {
  const mock = startProcess('mock-llm', process.execPath, ['--input-type=module', '-e', `
    const { startMockLlm } = await import(${JSON.stringify(new URL('../src/agent/mock-llm.ts', import.meta.url).pathname)});
    const m = await startMockLlm({ latencyMs: ${Number(args.latency)}, http2: true });
    console.log(m.url);`]);
  try {
    const url = await waitForLine(mock, (l) => l.startsWith('http://'), 10_000);
    const results = new Map<Variant, { rate: number; us: number; kb: number }[]>(VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < Number(args.rounds); r++) {
      for (const v of VARIANTS) {
        const p = startProcess(`round ${v}`, process.execPath, ['--expose-gc', import.meta.filename, '--variant', v, '--url', url, '--inflight', args.inflight!, '--seconds', args.seconds!]);
        const line = await waitForLine(p, (l) => /^\d+ [\d.]+ [\d.]+$/.test(l), 60_000);
        await stopProcess(p);
        const [rate, us, kb] = line.split(' ').map(Number);
        results.get(v)!.push({ rate: rate!, us: us!, kb: kb! });
        console.error(`round ${r + 1} ${v}: ${rate} calls/s, ${us} µs of CPU per call, ${kb} KB of heap per call in flight`);
      }
    }
    const base = median(results.get('undici')!.map((x) => x.us));
    console.log(`\n${args.inflight} calls in flight, mock answering in ${args.latency} ms, ${args.rounds} rounds (medians):\n`);
    console.log('| client | calls/s | CPU per call (µs) | ÷ bare undici | V8 heap per call in flight (KB) |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const v of VARIANTS) {
      const xs = results.get(v)!;
      const us = median(xs.map((x) => x.us));
      console.log(`| ${v} | ${Math.round(median(xs.map((x) => x.rate))).toLocaleString('en')} | ${us.toFixed(1)} | ${(us / base).toFixed(2)}× | ${median(xs.map((x) => x.kb)).toFixed(1)} |`);
    }
  } finally {
    killEverything();
  }
}

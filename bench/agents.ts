// Agent-executor benchmark (not run in CI):
//   (a) the example agent (a tool, two progress events, one LLM call) against a mock LLM that
//       answers in 2 s, the queue kept topped up until `--inflight` tasks run at once on one
//       node; reports completions/s, queue wait and resident memory per task in flight;
//   (b) submit → done throughput with an agent that returns at once, submitted over HTTP
//       (bounded keep-alive concurrency: net.core.somaxconn is small here) and straight into
//       the store.
//   npm run bench:agents -- [--inflight 10000] [--steady 20] [--latency 2000] [--tasks 20000] [--llm-http2 off|h2c]
// Everything listens on 127.0.0.1; every process started is ended by its pid (bench/lib/procs.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { openStore, type Store } from '../src/store/index.ts';
import { killEverything, startProcess, stopProcess, waitForLine, type Managed } from './lib/procs.ts';
import { writeSection } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TENANT = 'anonymous';
const { values: args } = parseArgs({
  options: {
    inflight: { type: 'string', default: '10000' },
    steady: { type: 'string', default: '20' },
    latency: { type: 'string', default: '2000' },
    tasks: { type: 'string', default: '20000' },
    children: { type: 'string', default: '2' },
    'http-concurrency': { type: 'string', default: '64' },
    // off: the mock and the client speak HTTP/1.1 (a socket per call); h2c: HTTP/2, calls multiplexed.
    'llm-http2': { type: 'string', default: 'off' },
    // Which parts to run: cost (store writes per task), inflight (a), bare (a, timer-only
    // agent), submit (b). RESULTS.md is rewritten only when all run.
    parts: { type: 'string', default: 'cost,inflight,bare,submit' },
    // How the bench process itself opens the store: as a child does (writes in a store
    // thread: a round trip per call) or in-thread (the cost row without that hop).
    'bench-store': { type: 'string', default: 'threaded' },
  },
});
const target = Number(args.inflight);
const steadyS = Number(args.steady);
const latencyMs = Number(args.latency);
const tasksB = Number(args.tasks);
const children = Number(args.children);
const httpConcurrency = Number(args['http-concurrency']);
const llmHttp2 = args['llm-http2'] === 'h2c' ? 'h2c' : 'off';
const parts = new Set(args.parts.split(','));
const benchInThread = args['bench-store'] === 'in-thread';
const SUBMIT_BURST = 50;
const SUBMIT_PAUSE_MS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Node {
  m: Managed;
  port: number;
  store: Store;
  childPids: number[];
  dir: string;
}

/** A drover on its own state and runtime directories, with the queue opened beside it. */
async function startNode(env: Record<string, string>): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-agents-'));
  const childPids: number[] = [];
  const m = startProcess('drover', process.execPath, [join(ROOT, 'src/main.ts'), 'start', '--port', '0', '--children', String(children)], {
    cwd: dir,
    env: {
      ...process.env,
      DROVER_AUTOSCALE__ENABLED: 'false',
      DROVER_ADMIN__PORT: '0',
      DROVER_SUPERVISOR__STATE_DIR: join(dir, 'state'),
      DROVER_SUPERVISOR__RUNTIME_DIR: join(dir, 'run'),
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '10',
      DROVER_LIMITS__RATE_PER_SECOND: '1000000',
      DROVER_LIMITS__BURST: '1000000',
      ...env,
    },
    onLine: (line) => {
      if (line.includes('"msg":"child ready"')) childPids.push((JSON.parse(line) as { childPid: number }).childPid);
    },
  });
  const listening = await waitForLine(m, (l) => l.includes('"msg":"listening"'), 30_000);
  await waitForLine(m, (l) => l.includes('"msg":"started"'), 30_000);
  const store = await openStore({ backend: 'sqlite', path: '', queue_limit: 1_000_000, result_ttl: 86_400, session_ttl: 86_400, cleanup_interval: 60, stateDir: join(dir, 'state'), inThread: benchInThread });
  return { m, port: (JSON.parse(listening) as { port: number }).port, store, childPids, dir };
}

async function stopNode(node: Node): Promise<void> {
  await stopProcess(node.m, 'SIGTERM', 20_000);
  await node.store.close();
  rmSync(node.dir, { recursive: true, force: true });
}

const rssBytes = (pids: number[]) => pids.reduce((sum, pid) => sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024, 0);
/** CPU seconds used so far by these processes (utime + stime; clock ticks are 100/s on Linux). */
const cpuSeconds = (pids: number[]) =>
  pids.reduce((sum, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return sum + (Number(fields[11]) + Number(fields[12])) / 100;
  }, 0);

async function enqueue(store: Store, n: number, input: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < n; i++) await store.enqueue({ tenant: TENANT, input: input(i), maxAttempts: 3, timeoutMs: 300_000 });
}

async function submitHttp(pool: Pool, input: unknown): Promise<void> {
  const r = await pool.request({ path: '/v1/tasks', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
  await r.body.dump();
  if (r.statusCode !== 202) throw new Error(`submit answered ${r.statusCode}`);
}

async function waitIdle(store: Store, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await store.stats();
    if (s.queued === 0 && s.running === 0) return;
    if (Date.now() > deadline) throw new Error(`not idle after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await sleep(200);
  }
}

async function inflightRun(): Promise<string[]> {
  const mock = startProcess('mock-llm', process.execPath, ['--input-type=module', '-e', `
    const { startMockLlm } = await import(${JSON.stringify(join(ROOT, 'src/agent/mock-llm.ts'))});
    const m = await startMockLlm({ latencyMs: ${latencyMs}, http2: ${llmHttp2 === 'h2c'} });
    console.log(m.url);`]);
  const url = await waitForLine(mock, (l) => l.startsWith('http://'), 10_000);
  const perChild = Math.ceil((target * 1.2) / children);
  const node = await startNode({
    DROVER_EXECUTOR__THREADS: '1',
    DROVER_EXECUTOR__TASKS_PER_THREAD: String(perChild),
    DROVER_LLM__PROVIDERS__MOCK__BASE_URL: url,
    DROVER_LLM__PROVIDERS__MOCK__CONNECTIONS: String(perChild),
    DROVER_LLM__PROVIDERS__MOCK__MAX_CONCURRENCY: String(perChild),
    DROVER_LLM__PROVIDERS__MOCK__HTTP2: llmHttp2,
  });
  const { store, childPids } = node;
  try {
    // Warm up (agent loaded, connections open), then take the idle baseline.
    await enqueue(store, 200, (i) => `warm up ${i}`);
    await waitIdle(store, 30_000);
    await sleep(1000);
    const idleRss = rssBytes(childPids);
    // The submitter keeps queued + running at the target. It writes into the store itself
    // (HTTP submission tops out below the rate 10,000 tasks of 2 s need), in small bursts with
    // pauses: SQLite's busy handler sleeps, so a process that takes the write lock back at once
    // starves the children.
    let enqueued = 0;
    let stats = await store.stats();
    let stop = false;
    const submitter = (async () => {
      while (!stop) {
        const room = Math.min(SUBMIT_BURST, target - stats.running - stats.queued);
        if (room > 0) await enqueue(store, room, (i) => `question ${enqueued + i}`);
        enqueued += Math.max(0, room);
        stats = await store.stats();
        await sleep(SUBMIT_PAUSE_MS);
      }
    })();
    const sample = async () => {
      stats = await store.stats();
      return { done: enqueued - stats.queued - stats.running - stats.dead, running: stats.running };
    };
    const rampStart = Date.now();
    while ((await sample()).running < target * 0.98 && Date.now() - rampStart < 60_000) await sleep(50);
    const rampS = (Date.now() - rampStart) / 1000;
    const start = { at: Date.now(), ...(await sample()), cpu: cpuSeconds([node.m.pid, ...childPids]) };
    const inflight: number[] = [];
    const perTask: number[] = [];
    while (Date.now() - start.at < steadyS * 1000) {
      const { running } = await sample();
      inflight.push(running);
      if (inflight.length % 20 === 10) perTask.push((rssBytes(childPids) - idleRss) / running);
      await sleep(50);
    }
    const end = { at: Date.now(), ...(await sample()), cpu: cpuSeconds([node.m.pid, ...childPids]) };
    const seconds = (end.at - start.at) / 1000;
    stop = true;
    await submitter;
    await waitIdle(store, 60_000);
    const tasks = await store.list(TENANT, { limit: 10_000_000 });
    const window = tasks.filter((t) => t.createdAt >= start.at && t.createdAt <= end.at && t.startedAt !== null);
    const wait = summarize(window.map((t) => t.startedAt! - t.createdAt));
    const run = summarize(window.filter((t) => t.finishedAt !== null).map((t) => t.finishedAt! - t.startedAt!));
    const failed = tasks.filter((t) => t.status !== 'succeeded').length;
    const inf = summarize(inflight);
    const rss = summarize(perTask);
    return [
      `### (a) ${target.toLocaleString('en')} tasks in flight, LLM answering in ${latencyMs / 1000} s`,
      '',
      `${children} children × 1 executor thread × ${perChild} tasks per thread; the example agent (ctx.tool, two ctx.progress, one ctx.llm.chat)` +
        ` against a mock LLM in its own process; tasks written into the store (${SUBMIT_BURST} at a time, ${SUBMIT_PAUSE_MS} ms apart) while queued + running < ${target.toLocaleString('en')}.`,
      '',
      '| measure | value |',
      '| --- | --- |',
      `| ramp 0 → ${Math.round(target * 0.98).toLocaleString('en')} in flight | ${rampS.toFixed(1)} s |`,
      `| tasks in flight, steady ${seconds.toFixed(0)} s (p50 / min) | ${inf.p50.toLocaleString('en')} / ${Math.min(...inflight).toLocaleString('en')} |`,
      `| completions/s (ideal: in flight ÷ ${latencyMs / 1000} s = ${Math.round(inf.p50 / (latencyMs / 1000)).toLocaleString('en')}) | ${Math.round((end.done - start.done) / seconds).toLocaleString('en')} |`,
      `| queue wait p50 / p99 (claimed − created, ${wait.n.toLocaleString('en')} tasks) | ${wait.p50} ms / ${wait.p99} ms |`,
      `| run time p50 / p99 (finished − claimed; the LLM takes ${latencyMs} ms) | ${run.p50} ms / ${run.p99} ms |`,
      `| RSS per task in flight (children, above idle; p50 / max) | ${(rss.p50 / 1024).toFixed(1)} KB / ${(rss.max / 1024).toFixed(1)} KB |`,
      `| CPU, supervisor + children | ${(((end.cpu - start.cpu) / seconds) * 100).toFixed(0)}% of one core (${cpus().length} cores) |`,
      `| tasks not succeeded | ${failed} of ${tasks.length.toLocaleString('en')} |`,
    ];
  } finally {
    await stopNode(node);
    await stopProcess(mock);
  }
}

/**
 * The store writes one example-agent task costs the child's main thread (claim, two progress
 * events, a tool claim and its result, the completion), timed in one process with no other
 * writer: the ceiling on tasks/s for a node, since every child of a node shares one write lock.
 */
async function storeCostUs(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-store-'));
  const store = await openStore({ backend: 'sqlite', path: join(dir, 'drover.db'), queue_limit: 1_000_000, result_ttl: 86_400, session_ttl: 86_400, cleanup_interval: 60, stateDir: dir, inThread: benchInThread });
  try {
    const n = 5000;
    await enqueue(store, n, (i) => `question ${i}`);
    const started = performance.now();
    for (let left = n; left > 0; ) {
      const tasks = await store.claim({ worker: 'bench', n: Math.min(256, left), leaseMs: 60_000 });
      left -= tasks.length;
      for (const t of tasks) {
        await store.publish(t.id, { type: 'step', step: 'tool' });
        await store.toolClaim(t.id, 'word-count', 'bench', 30_000);
        await store.toolPut(t.id, 'word-count', 'bench', { value: { words: 2 } });
        await store.publish(t.id, { type: 'step', step: 'llm' });
        await store.complete(t.id, t.fence, { content: 'echo: question', words: 2, turn: 1, model: 'mock-1', tokens: 13 });
      }
    }
    return ((performance.now() - started) * 1000) / n;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the executor itself holds per task: an agent that only waits on ctx.signal, no LLM call. */
async function bareRun(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-agent-'));
  const agent = join(dir, 'bare.mjs');
  writeFileSync(agent, `import { setTimeout as sleep } from 'node:timers/promises';
export default async function run(input, ctx) { await sleep(input.ms, undefined, { signal: ctx.signal }); return null; }\n`);
  const node = await startNode({ DROVER_EXECUTOR__AGENT: agent, DROVER_EXECUTOR__THREADS: '1', DROVER_EXECUTOR__TASKS_PER_THREAD: String(Math.ceil((target * 1.2) / children)) });
  try {
    await enqueue(node.store, 200, () => ({ ms: 10 }));
    await waitIdle(node.store, 30_000);
    await sleep(1000);
    const idle = rssBytes(node.childPids);
    for (let i = 0; i < target; i += SUBMIT_BURST) {
      await enqueue(node.store, Math.min(SUBMIT_BURST, target - i), () => ({ ms: 30_000 }));
      await sleep(SUBMIT_PAUSE_MS);
    }
    const deadline = Date.now() + 60_000;
    while ((await node.store.stats()).running < target && Date.now() < deadline) await sleep(100);
    const running = (await node.store.stats()).running;
    return `| RSS per task in flight, an agent that only awaits a timer (${running.toLocaleString('en')} in flight): the executor's own share | ${((rssBytes(node.childPids) - idle) / running / 1024).toFixed(1)} KB |`;
  } finally {
    await stopNode(node);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughputRun(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-bench-agent-'));
  const agent = join(dir, 'instant.mjs');
  writeFileSync(agent, 'export default async function run(input) { return { echo: input }; }\n');
  const node = await startNode({ DROVER_EXECUTOR__AGENT: agent, DROVER_EXECUTOR__THREADS: '1', DROVER_EXECUTOR__TASKS_PER_THREAD: '256' });
  const rows: string[] = [];
  try {
    // Over HTTP: POST /v1/tasks from a bounded number of keep-alive connections.
    const pool = new Pool(`http://127.0.0.1:${node.port}`, { connections: httpConcurrency });
    const first = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: httpConcurrency }, async () => {
      while (next < tasksB) await submitHttp(pool, next++);
    }));
    const submitted = Date.now();
    await waitIdle(node.store, 120_000);
    const done = Date.now();
    await pool.close();
    rows.push(`| over HTTP (${httpConcurrency} keep-alive connections) | ${Math.round(tasksB / ((submitted - first) / 1000)).toLocaleString('en')} | ${Math.round(tasksB / ((done - first) / 1000)).toLocaleString('en')} |`);

    // Straight into the store: the executor alone.
    const t0 = Date.now();
    await enqueue(node.store, tasksB, (i) => i);
    const t1 = Date.now();
    await waitIdle(node.store, 120_000);
    const t2 = Date.now();
    rows.push(`| into the store from one process | ${Math.round(tasksB / ((t1 - t0) / 1000)).toLocaleString('en')} | ${Math.round(tasksB / ((t2 - t0) / 1000)).toLocaleString('en')} |`);
  } finally {
    await stopNode(node);
    rmSync(dir, { recursive: true, force: true });
  }
  return [
    `### (b) submit → done, an agent that returns at once (${tasksB.toLocaleString('en')} tasks)`,
    '',
    `${children} children × 1 executor thread × 256 tasks per thread; done = the store shows nothing queued or running.`,
    '',
    '| submitted | submit rate (tasks/s) | submit → all done (tasks/s) |',
    '| --- | --- | --- |',
    ...rows,
  ];
}

process.on('SIGINT', () => {
  killEverything();
  process.exit(130);
});
try {
  const cost = parts.has('cost') ? await storeCostUs() : NaN;
  const a = [
    ...(parts.has('inflight') ? await inflightRun() : []),
    ...(parts.has('bare') ? [await bareRun()] : []),
    `| store writes per example-agent task, one process, no other writer (claim, 2 progress, tool claim + result, complete) | ${cost.toFixed(0)} µs → at most ${Math.round(1e6 / cost).toLocaleString('en')} tasks/s per node |`,
    '',
    `Reading: the children of a node share the SQLite file's one write lock, and each task of the example agent writes` +
      ` for about ${cost.toFixed(0)} µs, so a node completes at most about ${Math.round(1e6 / cost).toLocaleString('en')} tasks/s` +
      ` whatever the LLM latency (${target.toLocaleString('en')} tasks of ${latencyMs / 1000} s would need` +
      ` ${Math.round(target / (latencyMs / 1000)).toLocaleString('en')}/s). Tasks then stay in flight longer than the LLM call` +
      ` (the run time row) while the executor holds the in-flight count. Of the memory per task in flight, the executor's own` +
      ` share is the timer-only row; the rest is the agent's LLM request (one HTTP/1.1 socket per concurrent request in undici)` +
      ` and V8 heap headroom at this allocation rate.`,
  ];
  console.log(a.join('\n'));
  const b = parts.has('submit') ? await throughputRun() : [];
  console.log(b.join('\n'));
  if (parts.size === 4) writeSection(join(ROOT, 'bench/RESULTS.md'), [
    '## Agents',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, embedded SQLite store.`,
    '`npm run bench:agents` (bench/agents.ts).',
    '',
    ...a,
    '',
    ...b,
  ].join('\n'));
} finally {
  killEverything();
}

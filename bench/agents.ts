// Agent-executor benchmark (not run in CI):
//   (a) density: the queue kept topped up until `--inflight` tasks run at once on one node, for
//       each variant: the example agent (a tool, two progress events, one LLM call to a mock LLM
//       answering in 2 s) with its LLM client on HTTP/1.1 and on HTTP/2 (h2c), and the same steps
//       with a timer instead of the call (what the executor itself holds). Reports completions/s,
//       queue wait, run time, the children's event-loop delay (from the admin /metrics), and RSS
//       and V8 heap per task in flight, steady and at the peak;
//   (b) throughput: submit → done with an agent that returns at once, submitted over HTTP
//       (bounded keep-alive concurrency: net.core.somaxconn is small here) by a Node client in
//       this process and by wrk, and straight into the store in rounds alternating with BullMQ
//       (concurrency 32, its own redis-server), and each system's consumers alone on a queue
//       filled first;
//   then issue 20's targets with their verdicts (lib/agent-targets.ts).
//   npm run bench:agents -- [--parts density,throughput] [--variants timer,h1,h2c] [--inflight 10000] [--backlog 500]
//                           [--steady 20] [--latency 2000] [--tasks 20000] [--store-rounds 3]
//                           [--node-flags='--a-v8-flag …']  (flags for drover's node, its children's too: to try one)
//                           [--log FILE]  (what drover's processes print, e.g. with --node-flags=--trace-gc)
// Everything listens on 127.0.0.1; every process started is ended by its pid (bench/lib/procs.ts).
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { openStore, type Store } from '../src/store/index.ts';
import { ownTicks, TICKS_PER_S, treeCpuMs } from './lib/cpu.ts';
import { startRedis, type RedisServer } from '../test/helpers/redis.ts';
import { threadsOf } from '../test/helpers/proc.ts';
import { agentTargets, cpuBudget, targetsTable, type AgentMeasures } from './lib/agent-targets.ts';
import { runBullmq, submitAll } from './lib/queue-runs.ts';
import { killEverything, startProcess, stopProcess, waitForLine, type Managed } from './lib/procs.ts';
import { writeSection } from './lib/report.ts';
import { benchDir } from './lib/temp-dirs.ts';
import { runWrk } from './lib/wrk.ts';
import { median, summarize } from './lib/stats.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TENANT = 'anonymous';
const { values: args } = parseArgs({
  options: {
    inflight: { type: 'string', default: '10000' },
    // Part (a): tasks offered beyond the target (queued + running kept at target + backlog);
    // the submitter says why it is not 0.
    backlog: { type: 'string', default: '500' },
    steady: { type: 'string', default: '20' },
    latency: { type: 'string', default: '2000' },
    tasks: { type: 'string', default: '20000' },
    children: { type: 'string', default: '2' },
    'http-concurrency': { type: 'string', default: '64' },
    'node-flags': { type: 'string', default: '' },
    // Every line drover's processes print (their logs; --trace-gc's lines with --node-flags),
    // each after the time it was read, appended to this file.
    log: { type: 'string', default: '' },
    // Part (b): rounds of into-the-store alternating with BullMQ.
    'store-rounds': { type: 'string', default: '3' },
    // timer: the example agent's steps with a timer for the LLM call; h1 / h2c: the example agent,
    // its LLM client on HTTP/1.1 (a socket per call) or HTTP/2 without TLS (calls multiplexed).
    variants: { type: 'string', default: 'timer,h1,h2c' },
    parts: { type: 'string', default: 'density,throughput' },
  },
});
const target = Number(args.inflight);
const backlog = Number(args.backlog);
const steadyS = Number(args.steady);
const latencyMs = Number(args.latency);
const tasksB = Number(args.tasks);
const children = Number(args.children);
const httpConcurrency = Number(args['http-concurrency']);
const storeRounds = Number(args['store-rounds']);
const variantKeys = args.variants.split(',');
const parts = args.parts.split(',');
const SUBMIT_BURST = 200;
const SUBMIT_PAUSE_MS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Node {
  m: Managed;
  port: number;
  adminPort: number;
  store: Store;
  childPids: number[];
  dir: string;
}

/** A drover on its own state and runtime directories, with the queue opened beside it. */
async function startNode(env: Record<string, string>): Promise<Node> {
  const dir = benchDir('drover-bench-agents-');
  const childPids: number[] = [];
  let adminPort = 0;
  const flags = args['node-flags'].split(' ').filter(Boolean);
  const m = startProcess('drover', process.execPath, [...flags, join(ROOT, 'src/main.ts'), 'start', '--port', '0', '--children', String(children)], {
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
      if (args.log) appendFileSync(args.log, `${Date.now()} ${line}\n`);
      if (line.includes('"msg":"child ready"')) childPids.push((JSON.parse(line) as { childPid: number }).childPid);
      if (line.includes('"msg":"admin listening"')) adminPort = (JSON.parse(line) as { port: number }).port;
    },
  });
  const listening = await waitForLine(m, (l) => l.includes('"msg":"listening"'), 30_000);
  await waitForLine(m, (l) => l.includes('"msg":"started"'), 30_000);
  // The bench's own connection writes in-thread whatever the children do, so a before/after
  // comparison of the children's store is not also one of the bench's.
  const store = await openNodeStore(dir, true);
  return { m, port: (JSON.parse(listening) as { port: number }).port, adminPort, store, childPids, dir };
}

/** Another connection to the store of the node in `dir`: in this thread, or on a store thread as a child's. */
function openNodeStore(dir: string, inThread: boolean): Promise<Store> {
  return openStore({ backend: 'sqlite', path: '', queue_limit: 1_000_000, result_ttl: 86_400, session_ttl: 86_400, cleanup_interval: 60, stateDir: join(dir, 'state'), inThread });
}

async function stopNode(node: Node): Promise<void> {
  await stopProcess(node.m, 'SIGTERM', 20_000);
  await node.store.close();
  rmSync(node.dir, { recursive: true, force: true });
}

const rssBytes = (pids: number[]) => pids.reduce((sum, pid) => sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024, 0);
/** CPU seconds used so far by these processes. */
const cpuSeconds = (pids: number[]) => pids.reduce((sum, pid) => sum + ownTicks(`/proc/${pid}/stat`) / TICKS_PER_S, 0);

/** The worst child's event-loop delay p99 over its last report (about a second), ms, from the admin /metrics. */
async function childLagMs(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const lags = [...text.matchAll(/^drover_child_event_loop_lag_seconds\{[^}]*\} (\S+)$/gm)].map((x) => Number(x[1]) * 1000);
  return Math.max(0, ...lags);
}

const task = (input: unknown) => ({ tenant: TENANT, input, maxAttempts: 3, timeoutMs: 300_000 });

async function enqueue(store: Store, n: number, input: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < n; i++) await store.enqueue(task(input(i)));
}

/** `n` tasks at once: a threaded store commits them in one transaction, so the burst takes the write lock once. */
async function enqueueBurst(store: Store, n: number, input: (i: number) => unknown): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => store.enqueue(task(input(i)))));
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

/** When the first of the newest `count` tasks was claimed and the last finished, as their
 * children stamped them (ms since the epoch), once the queue is empty: a 200 ms poll would add
 * up to 200 ms to a 2 s run. */
async function runSpan(store: Store, count: number): Promise<{ firstStart: number; lastFinish: number }> {
  await waitIdle(store, 120_000);
  const tasks = await store.list(TENANT, { limit: count });
  if (tasks.length < count || tasks.some((t) => t.finishedAt === null)) throw new Error(`of the last ${count} tasks, ${tasks.length} listed, not all finished`);
  return { firstStart: Math.min(...tasks.map((t) => t.startedAt!)), lastFinish: Math.max(...tasks.map((t) => t.finishedAt!)) };
}

/** One configuration of part (a): which agent runs, and how the LLM client speaks to the mock. */
interface Variant {
  key: 'timer' | 'h1' | 'h2c';
  label: string;
  /** The example agent, or the same steps with its LLM call replaced by a timer of the same length. */
  agent: 'example' | 'timer';
  http2: 'off' | 'h2c';
}

const VARIANTS: readonly Variant[] = [
  { key: 'timer', label: 'no LLM call (a timer as long)', agent: 'timer', http2: 'off' },
  { key: 'h1', label: 'LLM over HTTP/1.1', agent: 'example', http2: 'off' },
  { key: 'h2c', label: 'LLM over HTTP/2 (h2c)', agent: 'example', http2: 'h2c' },
];

/** What the children hold at one moment, summed over both children. */
interface MemorySample {
  running: number;
  rss: number;
  /** V8 heap in use: the children's main threads, and their executor threads. */
  heapMain: number;
  heapThreads: number;
  /** V8 heap reserved by all isolates (used + free), and memory V8 keeps outside its heap (buffers, malloc). */
  heapCommitted: number;
  offHeap: number;
  /** Established client sockets to the mock LLM. */
  llmSockets: number;
}

interface DensityResult {
  variant: Variant;
  perChild: number;
  rampS: number;
  seconds: number;
  inflight: number[];
  /** Tasks queued, sampled with inflight. */
  queued: number[];
  /** The worst child's event-loop delay p99, once a second over the steady window (ms). */
  lagMs: number[];
  completionsPerS: number;
  wait: ReturnType<typeof summarize>;
  run: ReturnType<typeof summarize>;
  cpuPct: number;
  /** The children's CPU over the steady window by thread, µs. */
  threadCpuUs: ThreadCpu;
  /** CPU of the mock LLM, and of this process (submitter, sampler, its store thread), over the same window. */
  mockCpuPct: number;
  benchCpuPct: number;
  failed: number;
  total: number;
  idle: MemorySample;
  steady: MemorySample[];
  /** The samples (ramp or steady) with the most resident memory, and with the most V8 heap. */
  peak: MemorySample;
  peakHeap: MemorySample;
}

/**
 * Agent modules for part (a), each with a probe: every thread that loads the module (the
 * child's main thread checks it at boot, then each executor thread) writes its V8 heap in use
 * and its own CPU time to probeDir/<pid>-<threadId> four times a second. Memory of other
 * isolates cannot be read from outside the process, and this needs nothing from drover itself.
 */
function writeAgent(dir: string, probeDir: string, agent: Variant['agent']): string {
  const probe = `import { writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { threadId } from 'node:worker_threads';
const heap = () => {
  const h = getHeapStatistics();
  const cpu = process.threadCpuUsage();
  return [h.used_heap_size, h.total_heap_size, h.external_memory + h.malloced_memory, cpu.user + cpu.system];
};
const probe = () => {
  try { writeFileSync(${JSON.stringify(probeDir)} + '/' + process.pid + '-' + threadId, JSON.stringify(heap())); } catch {}
};
probe();
setInterval(probe, 250).unref();
`;
  const file = join(dir, `${agent}.mjs`);
  const body = agent === 'example'
    ? `export { default } from ${JSON.stringify(pathToFileURL(join(ROOT, 'examples/agent.ts')).href)};\n`
    : `import { setTimeout as sleep } from 'node:timers/promises';
// The example agent's steps with its LLM call replaced by a timer as long as the mock's answer.
export default async function run(input, ctx) {
  ctx.progress({ type: 'step', step: 'tool', tool: 'word-count' });
  const stats = await ctx.tool('word-count', async () => ({ words: String(input).split(/\\s+/).filter(Boolean).length }));
  ctx.progress({ type: 'step', step: 'llm' });
  await sleep(${latencyMs}, undefined, { signal: ctx.signal });
  return { content: 'no call', words: stats.words, turn: 1, model: 'none', tokens: 0 };
}
`;
  writeFileSync(file, probe + body);
  return file;
}

/** Heap in use by the probes of these processes (files of threads that ended are left out by age). */
function heapOf(probeDir: string, pids: number[]): { main: number; threads: number; committed: number; offHeap: number } {
  const out = { main: 0, threads: 0, committed: 0, offHeap: 0 };
  for (const { thread, values: [used, total, outside] } of probes(probeDir, pids)) {
    if (thread === 0) out.main += used!;
    else out.threads += used!;
    out.committed += total!;
    out.offHeap += outside!;
  }
  return out;
}

/** What the probes of these processes wrote last, each with its thread (0: the main thread). */
function probes(probeDir: string, pids: number[]): { thread: number; values: number[] }[] {
  const fresh = Date.now() - 2000;
  const out: { thread: number; values: number[] }[] = [];
  for (const name of readdirSync(probeDir)) {
    const [pid, thread] = name.split('-').map(Number);
    if (!pids.includes(pid!)) continue;
    const file = join(probeDir, name);
    if (statSync(file).mtimeMs < fresh) continue;
    try {
      out.push({ thread: thread!, values: JSON.parse(readFileSync(file, 'utf8')) as number[] });
    } catch {
      // caught between the probe's truncate and write: its next write comes in 250 ms
    }
  }
  return out;
}

/**
 * CPU used so far by the children, µs, split by thread. main and executors come from the probes,
 * up to 250 ms behind /proc: over the 20 s window that moves a share by about 1%.
 */
interface ThreadCpu {
  main: number;
  executors: number;
  /** V8's platform threads (comm "V8Worker"): garbage collection for all the isolates of a child, and background compiling. */
  v8Helpers: number;
  /** Everything else in the children: the store thread, and libuv's and Node's small threads. */
  rest: number;
}

/** The main and executor threads' own CPU (the probes), V8's helper threads' (/proc), and the rest of each child. */
function threadCpu(probeDir: string, pids: number[]): ThreadCpu {
  let main = 0;
  let executors = 0;
  for (const { thread, values } of probes(probeDir, pids)) {
    if (thread === 0) main += values[3]!;
    else executors += values[3]!;
  }
  let helperTicks = 0;
  let totalTicks = 0;
  for (const pid of pids) {
    totalTicks += ownTicks(`/proc/${pid}/stat`);
    for (const t of threadsOf(pid)) if (t.comm === 'V8Worker') helperTicks += t.ticks;
  }
  const v8Helpers = (helperTicks * 1e6) / TICKS_PER_S;
  return { main, executors, v8Helpers, rest: (totalTicks * 1e6) / TICKS_PER_S - main - executors - v8Helpers };
}

/** Established TCP sockets whose far end is this loopback port (IPv4), from /proc/net/tcp. */
function socketsTo(port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[2]?.endsWith(hexPort) && f[3] === '01') n++;
  }
  return n;
}

function sampleMemory(pids: number[], probeDir: string, llmPort: number, running: number): MemorySample {
  const heap = heapOf(probeDir, pids);
  return { running, rss: rssBytes(pids), heapMain: heap.main, heapThreads: heap.threads, heapCommitted: heap.committed, offHeap: heap.offHeap, llmSockets: socketsTo(llmPort) };
}

async function densityRun(variant: Variant): Promise<DensityResult> {
  const dir = benchDir('drover-bench-density-');
  const probeDir = join(dir, 'heap');
  mkdirSync(probeDir);
  const agent = writeAgent(dir, probeDir, variant.agent);
  const mock = startProcess('mock-llm', process.execPath, ['--input-type=module', '-e', `
    const { startMockLlm } = await import(${JSON.stringify(join(ROOT, 'src/agent/mock-llm.ts'))});
    const m = await startMockLlm({ latencyMs: ${latencyMs}, http2: ${variant.http2 === 'h2c'} });
    console.log(m.url);`]);
  const url = await waitForLine(mock, (l) => l.startsWith('http://'), 10_000);
  const llmPort = Number(new URL(url).port);
  const perChild = Math.ceil((target * 1.2) / children);
  const node = await startNode({
    DROVER_EXECUTOR__AGENT: agent,
    DROVER_EXECUTOR__THREADS: '1',
    DROVER_EXECUTOR__TASKS_PER_THREAD: String(perChild),
    DROVER_LLM__PROVIDERS__MOCK__BASE_URL: url,
    // HTTP/1.1 as before HTTP/2: a socket per call. HTTP/2 keeps the default pool (64 connections × 100 streams).
    ...(variant.http2 === 'off' ? { DROVER_LLM__PROVIDERS__MOCK__CONNECTIONS: String(perChild) } : {}),
    DROVER_LLM__PROVIDERS__MOCK__MAX_CONCURRENCY: String(perChild),
    DROVER_LLM__PROVIDERS__MOCK__HTTP2: variant.http2,
  });
  const { store, childPids } = node;
  try {
    // Warm up (agent loaded, connections open), then take the idle baseline.
    await enqueue(store, 200, (i) => `warm up ${i}`);
    await waitIdle(store, 30_000 + 2 * latencyMs);
    await sleep(1000);
    const idle = sampleMemory(childPids, probeDir, llmPort, 0);
    // The submitter keeps queued + running at the target (plus --backlog): the tasks submitted
    // and not yet claimed (a claim every few tens of ms, each waiting its turn on the write
    // lock) are missing from those running, so without a backlog running stays a little under
    // the target however many the node could hold (72–313 tasks waited at the median in runs
    // offered exactly 10,000); the default backlog lets a node that can hold the target show
    // it. It writes into the store itself
    // (HTTP submission tops out below the rate 10,000 tasks of 2 s need), in bursts with pauses:
    // a writer waiting for the lock tries again only every so often (db.ts), so a process that
    // takes the write lock back at once starves the children. A burst waits its turn on the lock while the node finishes tasks, so bursts
    // overlap and those not yet committed count against the room: waiting for each commit
    // before the next burst kept the offer 400–700 under the target at ~3,600 completions/s.
    let enqueued = 0;
    let stats = await store.stats();
    let stop = false;
    // Its own threaded connection, as a child's: the burst's enqueues share one commit.
    const submitStore = await openNodeStore(node.dir, false);
    let uncommitted = 0;
    const submitter = (async () => {
      const bursts = new Set<Promise<void>>();
      while (!stop) {
        const room = Math.min(SUBMIT_BURST, target + backlog - stats.running - stats.queued - uncommitted);
        if (room > 0) {
          uncommitted += room;
          const burst: Promise<void> = enqueueBurst(submitStore, room, (i) => `question ${enqueued + i}`).finally(() => {
            uncommitted -= room;
            bursts.delete(burst);
          });
          bursts.add(burst);
          enqueued += room;
        }
        stats = await store.stats();
        await sleep(SUBMIT_PAUSE_MS);
      }
      await Promise.all(bursts);
    })();
    const sample = async () => {
      stats = await store.stats();
      return { done: enqueued - stats.queued - stats.running - stats.dead, running: stats.running, queued: stats.queued };
    };
    // Memory every 10th look (about twice a second): reading /proc/net/tcp with 10,000 sockets is not free.
    let looks = 0;
    let peak = idle;
    let peakHeap = idle;
    const steady: MemorySample[] = [];
    const look = (running: number, keep: boolean) => {
      if (looks++ % 10 !== 5 || running === 0) return;
      const m = sampleMemory(childPids, probeDir, llmPort, running);
      if (m.rss > peak.rss) peak = m;
      if (heapOfSample(m) > heapOfSample(peakHeap)) peakHeap = m;
      if (keep) steady.push(m);
    };
    const rampStart = Date.now();
    for (;;) {
      const { running } = await sample();
      look(running, false);
      if (running >= target * 0.98 || Date.now() - rampStart > 60_000) break;
      await sleep(50);
    }
    const rampS = (Date.now() - rampStart) / 1000;
    const start = { at: Date.now(), ...(await sample()), cpu: cpuSeconds([node.m.pid, ...childPids]), threads: threadCpu(probeDir, childPids), mockCpu: cpuSeconds([mock.pid]), self: process.cpuUsage() };
    const inflight: number[] = [];
    const queued: number[] = [];
    const lagMs: number[] = [];
    let lagAt = 0;
    while (Date.now() - start.at < steadyS * 1000) {
      const { running, queued: waiting } = await sample();
      inflight.push(running);
      queued.push(waiting);
      look(running, true);
      if (Date.now() - lagAt >= 1000) {
        lagAt = Date.now();
        lagMs.push(await childLagMs(node.adminPort));
      }
      await sleep(50);
    }
    const end = { at: Date.now(), ...(await sample()), cpu: cpuSeconds([node.m.pid, ...childPids]), threads: threadCpu(probeDir, childPids), mockCpu: cpuSeconds([mock.pid]), self: process.cpuUsage(start.self) };
    const seconds = (end.at - start.at) / 1000;
    stop = true;
    await submitter;
    await submitStore.close();
    await waitIdle(store, 60_000 + 2 * latencyMs);
    const tasks = await store.list(TENANT, { limit: 10_000_000 });
    const window = tasks.filter((t) => t.createdAt >= start.at && t.createdAt <= end.at && t.startedAt !== null);
    return {
      variant, perChild, rampS, seconds, inflight, queued, lagMs, idle, steady, peak, peakHeap,
      completionsPerS: (end.done - start.done) / seconds,
      wait: summarize(window.map((t) => t.startedAt! - t.createdAt)),
      run: summarize(window.filter((t) => t.finishedAt !== null).map((t) => t.finishedAt! - t.startedAt!)),
      cpuPct: ((end.cpu - start.cpu) / seconds) * 100,
      threadCpuUs: {
        main: end.threads.main - start.threads.main,
        executors: end.threads.executors - start.threads.executors,
        v8Helpers: end.threads.v8Helpers - start.threads.v8Helpers,
        rest: end.threads.rest - start.threads.rest,
      },
      mockCpuPct: ((end.mockCpu - start.mockCpu) / seconds) * 100,
      benchCpuPct: ((end.self.user + end.self.system) / 1e6 / seconds) * 100,
      failed: tasks.filter((t) => t.status !== 'succeeded').length,
      total: tasks.length,
    };
  } finally {
    await stopNode(node);
    await stopProcess(mock);
    rmSync(dir, { recursive: true, force: true });
  }
}

type Measure = (m: MemorySample) => number;
const rssOf: Measure = (m) => m.rss;
const heapOfSample: Measure = (m) => m.heapMain + m.heapThreads;
/** KB per task in flight above the idle baseline over the steady samples (Σ memory ÷ Σ tasks, so shares add up). */
const steadyKb = (r: DensityResult, f: Measure) =>
  r.steady.reduce((sum, m) => sum + f(m) - f(r.idle), 0) / r.steady.reduce((sum, m) => sum + m.running, 0) / 1024;
/** The most memory above idle seen, ÷ the most tasks in flight seen: what a node must provision per task. */
const peakKb = (r: DensityResult, f: Measure) => {
  const at = f === rssOf ? r.peak : r.peakHeap;
  return (f(at) - f(r.idle)) / Math.max(...r.inflight) / 1024;
};
const n = (x: number) => Math.round(x).toLocaleString('en');
const usPerTask = (r: DensityResult) => (r.cpuPct / 100 / r.completionsPerS) * 1e6;

function densityTable(results: DensityResult[], cost: number): string[] {
  const row = (label: string, cell: (r: DensityResult) => string) => `| ${label} | ${results.map(cell).join(' | ')} |`;
  const kb = (x: number) => `${x.toFixed(1)} KB`;
  const timer = results.find((r) => r.variant.key === 'timer');
  const lines = [
    `### (a) ${target.toLocaleString('en')} tasks in flight, the LLM answering in ${latencyMs / 1000} s`,
    '',
    `${children} children × 1 executor thread × ${results[0]!.perChild} tasks per thread, against a mock LLM in its own process;` +
      ` tasks written into the store (${SUBMIT_BURST} at a time in one commit, ${SUBMIT_PAUSE_MS} ms apart) while queued + running < ${n(target + backlog)}.` +
      ' Columns: the example agent (ctx.tool, two ctx.progress, one ctx.llm.chat) with the client on HTTP/1.1 (`connections` = tasks per thread:' +
      ' a socket per call, as before HTTP/2) and on HTTP/2 h2c (default pool: 64 connections × 100 streams); and the same steps with' +
      ' the LLM call replaced by a timer as long (what the executor itself holds per task). Memory is the two children\'s, above the' +
      ' same node idle after a warm-up; "steady" is Σ memory ÷ Σ tasks in flight over samples twice a second, "peak" the most' +
      ' memory above idle seen ÷ the most tasks in flight seen. V8 heap is read by a probe in the agent module in every thread (main + executor):' +
      ' heap in use, garbage not yet collected included.',
    '',
    `| measure | ${results.map((r) => r.variant.label).join(' | ')} |`,
    `| --- | ${results.map(() => '---').join(' | ')} |`,
    row(`ramp 0 → ${n(target * 0.98)} in flight`, (r) => `${r.rampS.toFixed(1)} s`),
    row(`tasks in flight, steady ${steadyS} s (p50 / min)`, (r) => `${n(summarize(r.inflight).p50)} / ${n(Math.min(...r.inflight))}`),
    row('tasks queued, steady (p50)', (r) => n(summarize(r.queued).p50)),
    row(`tasks queued + running, steady (p50; offered: ${n(target + backlog)})`, (r) => n(summarize(r.queued.map((q, i) => q + r.inflight[i]!)).p50)),
    row(`completions/s (ideal: in flight ÷ ${latencyMs / 1000} s)`, (r) => `${n(r.completionsPerS)} (${n(summarize(r.inflight).p50 / (latencyMs / 1000))})`),
    row('queue wait p50 / p99 (claimed − created)', (r) => (r.wait.n ? `${r.wait.p50} / ${r.wait.p99} ms` : '— (none claimed)')),
    row(`run time p50 / p99 (finished − claimed; the call takes ${latencyMs} ms)`, (r) => (r.run.n ? `${r.run.p50} / ${r.run.p99} ms` : '— (none finished)')),
    row('child event-loop delay p99, worst child, once a second (median / max; target < 50 ms)', (r) =>
      `${summarize(r.lagMs).p50.toFixed(0)} / ${summarize(r.lagMs).max.toFixed(0)} ms`),
    row('**RSS per task in flight, steady**', (r) => `**${kb(steadyKb(r, rssOf))}**`),
    row('RSS per task in flight at the peak (most MB above idle ÷ most in flight)', (r) => `${kb(peakKb(r, rssOf))} (${((r.peak.rss - r.idle.rss) / 2 ** 20).toFixed(0)} MB ÷ ${n(Math.max(...r.inflight))})`),
    row('**V8 heap per task in flight, steady** (main + executor threads)', (r) =>
      `**${kb(steadyKb(r, heapOfSample))}** (${kb(steadyKb(r, (m) => m.heapMain))} + ${kb(steadyKb(r, (m) => m.heapThreads))})`),
    row('V8 heap reserved (used + free) / memory V8 holds outside its heap, per task, steady', (r) =>
      `${kb(steadyKb(r, (m) => m.heapCommitted))} / ${kb(steadyKb(r, (m) => m.offHeap))}`),
    row('V8 heap per task in flight at the peak', (r) => `${kb(peakKb(r, heapOfSample))} (${((heapOfSample(r.peakHeap) - heapOfSample(r.idle)) / 2 ** 20).toFixed(0)} MB)`),
    row('sockets to the LLM at the peak', (r) => n(r.peak.llmSockets)),
    row('CPU, supervisor + children', (r) => `${r.cpuPct.toFixed(0)}% of a core`),
    row('CPU per completed task, supervisor + children', (r) => `${n(usPerTask(r))} µs`),
    row('CPU per completed task in the children, by thread: main / executor / V8\'s helpers (garbage collection) / the store thread and the rest', (r) => {
      const tasks = r.completionsPerS * r.seconds;
      const t = r.threadCpuUs;
      return `${[t.main, t.executors, t.v8Helpers, t.rest].map((us) => n(us / tasks)).join(' / ')} µs`;
    }),
    row(`CPU beside drover's: the mock LLM / this bench (of ${cpus().length} cores)`, (r) => `${r.mockCpuPct.toFixed(0)}% / ${r.benchCpuPct.toFixed(0)}% of a core`),
    row('tasks not succeeded', (r) => `${r.failed} of ${n(r.total)}`),
  ];
  // Shares are differences between columns: they mean something only when every run held the
  // target, i.e. its tasks were waiting on the call (or timer), not queued behind store writes.
  const full = results.every((r) => summarize(r.inflight).p50 >= target * 0.95);
  if (timer && !full) {
    lines.push('', `No shares: not every run held ${target.toLocaleString('en')} tasks in flight (tasks then wait on store writes,` +
      ' not on the call, and churn sets the heap\'s headroom); a longer --latency lets the node hold them.');
  }
  if (timer && full) {
    lines.push('', 'Per task in flight, steady: the executor\'s own share (the timer column) and the LLM client\'s (an LLM column minus the timer column).',
      '', '| share | RSS | V8 heap |', '| --- | --- | --- |',
      `| executor (claim, context, ctx.tool, ctx.progress, a timer) | ${kb(steadyKb(timer, rssOf))} | ${kb(steadyKb(timer, heapOfSample))} |`);
    for (const r of results.filter((x) => x !== timer)) {
      lines.push(`| LLM client, ${r.variant.label.replace(/^LLM /, '')} | ${kb(steadyKb(r, rssOf) - steadyKb(timer, rssOf))} | ${kb(steadyKb(r, heapOfSample) - steadyKb(timer, heapOfSample))} |`);
    }
  }
  lines.push('', `Store writes per example-agent task, one process, no other writer, each write its own commit (claim, 2 progress, tool claim + result, complete): ` +
    `${cost.toFixed(0)} µs, ${n(1e6 / cost)} tasks/s. A child's store thread commits the writes of many tasks together, so a node does more.`);
  return lines;
}

/**
 * The store writes one example-agent task costs the child's main thread (claim, two progress
 * events, a tool claim and its result, the completion), timed in one process with no other
 * writer: the ceiling on tasks/s for a node, since every child of a node shares one write lock.
 */
async function storeCostUs(): Promise<number> {
  const dir = benchDir('drover-bench-store-');
  const store = await openStore({ backend: 'sqlite', path: join(dir, 'drover.db'), queue_limit: 1_000_000, result_ttl: 86_400, session_ttl: 86_400, cleanup_interval: 60, stateDir: dir });
  try {
    const n = 5000;
    await enqueue(store, n, (i) => `question ${i}`);
    const started = performance.now();
    for (let left = n; left > 0; ) {
      const tasks = await store.claim({ worker: 'bench', n: Math.min(256, left), leaseMs: 60_000 });
      left -= tasks.length;
      for (const t of tasks) {
        await store.publish(t.id, t.fence, { type: 'step', step: 'tool' });
        await store.toolClaim(t.id, 'word-count', 'bench', 30_000);
        await store.toolPut(t.id, 'word-count', 'bench', { value: { words: 2 } });
        await store.publish(t.id, t.fence, { type: 'step', step: 'llm' });
        await store.complete(t.id, t.fence, { content: 'echo: question', words: 2, turn: 1, model: 'mock-1', tokens: 13 });
      }
    }
    return ((performance.now() - started) * 1000) / n;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ThroughputResult {
  lines: string[];
  /** Submit → done over HTTP (tasks/s). */
  http: { node: number; wrk: number };
  /** Submit → done into the store and BullMQ's, medians over rounds (tasks/s). */
  intoStore: { drover: number; bullmq: number };
}

async function throughputRun(): Promise<ThroughputResult> {
  const dir = benchDir('drover-bench-agent-');
  const agent = join(dir, 'instant.mjs');
  writeFileSync(agent, 'export default async function run(input) { return { echo: input }; }\n');
  const node = await startNode({ DROVER_EXECUTOR__AGENT: agent, DROVER_EXECUTOR__THREADS: '1', DROVER_EXECUTOR__TASKS_PER_THREAD: '256' });
  const rows: string[] = [];
  let redis: RedisServer | undefined;
  const drover: number[] = [];
  const bullmq: number[] = [];
  let httpNode = Number.NaN;
  let httpWrk = Number.NaN;
  try {
    // Over HTTP: POST /v1/tasks from a bounded number of keep-alive connections.
    const pool = new Pool(`http://127.0.0.1:${node.port}`, { connections: httpConcurrency });
    // CPU of drover's own processes (supervisor, children, their threads) per task: steadier
    // than the rates on a machine shared with other work.
    const cpuPerTask = (fromMs: number) => (treeCpuMs([node.m.pid]) - fromMs) / tasksB;
    // Two rounds: the first right after start, the second counted. The first costs drover ~1.6×
    // the CPU per task of the second (its children's code is not optimized yet, nor the client's
    // in this process): a server answers most of its requests warm, as BullMQ's rounds below are
    // counted after a warm-up round. Both rounds are printed.
    let cpu0 = 0;
    let submitMs = 0;
    for (const round of ['first', 'second'] as const) {
      cpu0 = treeCpuMs([node.m.pid]);
      const first = Date.now();
      let next = 0;
      await Promise.all(Array.from({ length: httpConcurrency }, async () => {
        while (next < tasksB) await submitHttp(pool, next++);
      }));
      submitMs = Date.now() - first;
      const done = (await runSpan(node.store, tasksB)).lastFinish;
      httpNode = tasksB / ((done - first) / 1000);
      const when = round === 'first' ? 'the first round after start, not counted' : 'the second round';
      rows.push(`| over HTTP, a Node client in this process (undici Pool, ${httpConcurrency} keep-alive connections): ${when} | ${n(tasksB / (submitMs / 1000))} | ${n(httpNode)} | ${cpuPerTask(cpu0).toFixed(2)} |`);
    }
    await pool.close();

    // The same over wrk, whose client costs the shared cores far less than a Node one: for a
    // while as long as the Node client took, then until the queue is empty.
    const script = join(dir, 'submit.lua');
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = '{"input":"question"}'\nwrk.headers["content-type"] = "application/json"\n`);
    const cpuW = treeCpuMs([node.m.pid]);
    const w0 = Date.now();
    const w = await runWrk({ url: `http://127.0.0.1:${node.port}/v1/tasks`, threads: 1, connections: httpConcurrency, durationS: Math.max(3, Math.round(submitMs / 1000)), close: false, timeoutS: 10, script });
    if (Object.keys(w.errors).length) throw new Error(`wrk saw errors submitting: ${JSON.stringify(w.errors)}`);
    const wDone = (await runSpan(node.store, w.requests)).lastFinish;
    httpWrk = w.requests / ((wDone - w0) / 1000);
    rows.push(`| over HTTP, wrk (${httpConcurrency} keep-alive connections, ${n(w.requests)} tasks) | ${n(w.rps)} | ${n(httpWrk)} | ${((treeCpuMs([node.m.pid]) - cpuW) / w.requests).toFixed(2)} |`);

    // Straight into the store: the executor alone. 64 submits in flight on a threaded
    // connection, as a child's, and as BullMQ's peer submits (queue.add, 64 in flight). Rounds
    // alternate with BullMQ (Queue + Worker at concurrency 32 in this process, its own
    // redis-server) so the machine's drift hits both; the drover node idles through BullMQ's turn.
    redis = await startRedis();
    const submitRates: number[] = [];
    const cpuPerTaskMs: number[] = [];
    // Round 0 warms both up and is not counted: BullMQ runs in this process, where its code is
    // not yet optimized in its first round (11,793/s against 13,039–15,311 later in one 5-round
    // run), while the drover node has already served the HTTP part.
    for (let round = 0; round <= storeRounds; round++) {
      const order = round % 2 ? (['drover', 'bullmq'] as const) : (['bullmq', 'drover'] as const);
      for (const system of order) {
        if (system === 'bullmq') {
          const { ms } = await runBullmq(redis, 32, round, tasksB);
          if (round > 0) bullmq.push(tasksB / (ms / 1000));
          continue;
        }
        const submitStore = await openNodeStore(node.dir, false);
        cpu0 = treeCpuMs([node.m.pid]);
        const t0 = Date.now();
        await submitAll(tasksB, 64, (i) => submitStore.enqueue(task(i)));
        const t1 = Date.now();
        await submitStore.close();
        const last = (await runSpan(node.store, tasksB)).lastFinish;
        if (round === 0) continue;
        submitRates.push(tasksB / ((t1 - t0) / 1000));
        drover.push(tasksB / ((last - t0) / 1000));
        cpuPerTaskMs.push(cpuPerTask(cpu0));
      }
    }
    // The consumers alone, to read the rates above by: the queue filled first, then drained
    // with nothing else writing; drover from its first claim to its last finish, as the
    // children stamped them, BullMQ from its worker's start. Not a target.
    const alone: number[] = [];
    const bullmqAlone: number[] = [];
    for (let round = 0; round < storeRounds; round++) {
      const { ms } = await runBullmq(redis, 32, round, tasksB, { fillFirst: true });
      bullmqAlone.push(tasksB / (ms / 1000));
      const submitStore = await openNodeStore(node.dir, false);
      await Promise.all(Array.from({ length: tasksB }, (_, i) => submitStore.enqueue(task(i))));
      await submitStore.close();
      const { firstStart, lastFinish } = await runSpan(node.store, tasksB);
      alone.push(tasksB / ((lastFinish - firstStart) / 1000));
    }
    const ratios = drover.map((d, i) => d / bullmq[i]!);
    rows.push(`| into the store from one process (64 in flight), median of ${storeRounds} | ${n(median(submitRates))} | ${n(median(drover))} | ${median(cpuPerTaskMs).toFixed(2)} |`);
    rows.push(`| BullMQ 6 (Queue + Worker, concurrency 32, one process), rounds alternating with the row above, after a warm-up round of each | — | ${n(median(bullmq))} | — |`);
    rows.push(`| not a target: drover's children alone, the queue filled first (one commit), median of ${storeRounds} | — | ${n(median(alone))} | — |`);
    rows.push(`| not a target: BullMQ's worker alone, the queue filled first, median of ${storeRounds} | — | ${n(median(bullmqAlone))} | — |`);
    rows.push('', `Into the store ÷ BullMQ: ${(median(drover) / median(bullmq)).toFixed(2)}× (ratio of medians), per round ${ratios.map((r, i) => `${r.toFixed(2)}× (${n(drover[i]!)} / ${n(bullmq[i]!)})`).join(', ')}.`);
  } finally {
    await stopNode(node);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const lines = [
    `### (b) submit → done, an agent that returns at once (${tasksB.toLocaleString('en')} tasks)`,
    '',
    `${children} children × 1 executor thread × 256 tasks per thread; done = the last task's finish, as its child stamped it. ` +
      'The clients share the 2 cores with drover: the Node client costs them more than wrk does.',
    '',
    '| submitted | submit rate (tasks/s) | submit → all done (tasks/s) | drover CPU per task (ms) |',
    '| --- | --- | --- | --- |',
    ...rows,
  ];
  return { lines, http: { node: httpNode, wrk: httpWrk }, intoStore: { drover: median(drover), bullmq: median(bullmq) } };
}

process.on('SIGINT', () => {
  killEverything();
  process.exit(130);
});
try {
  const day = new Date().toISOString().slice(0, 10);
  const command = `\`npm run bench:agents${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, embedded SQLite store`;
  const measures: AgentMeasures = {};
  let densityOf = '';
  if (parts.includes('density')) {
    const cost = await storeCostUs();
    const results: DensityResult[] = [];
    for (const key of variantKeys) {
      const variant = VARIANTS.find((v) => v.key === key);
      if (!variant) throw new Error(`no variant ${key} (${VARIANTS.map((v) => v.key).join(', ')})`);
      console.log(`${variant.label}: load before ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
      results.push(await densityRun(variant));
    }
    // The targets are the example agent's on the default client (HTTP/2 where the provider speaks it).
    const example = results.find((r) => r.variant.key === 'h2c') ?? results.find((r) => r.variant.key === 'h1');
    if (example) {
      densityOf = ` (density: the example agent, ${example.variant.label})`;
      const inflight = summarize(example.inflight);
      measures.inflight = { p50: inflight.p50, min: Math.min(...example.inflight), target };
      measures.run = { p50Ms: example.run.p50, llmMs: latencyMs };
      const lag = summarize(example.lagMs);
      measures.lag = { medianMs: lag.p50, maxMs: lag.max };
      measures.rssKb = steadyKb(example, rssOf);
      measures.cpu = {
        usPerTask: usPerTask(example),
        neededPerS: target / (latencyMs / 1000),
        othersCores: (example.mockCpuPct + example.benchCpuPct) / 100,
        cores: cpus().length,
      };
    }
    const a = densityTable(results, cost);
    console.log(a.join('\n'));
    writeSection(join(ROOT, 'bench/RESULTS.md'), [
      '## Agent density',
      '',
      `Run ${day} on ${machine}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end.`,
      `${command} (bench/agents.ts).`,
      '',
      ...a,
    ].join('\n'));
  }
  if (parts.includes('throughput')) {
    const t = await throughputRun();
    measures.http = t.http;
    measures.intoStore = t.intoStore;
    const b = t.lines;
    console.log(b.join('\n'));
    writeSection(join(ROOT, 'bench/RESULTS.md'), [
      '## Agents',
      '',
      `Run ${day} on ${machine}. ${command} (bench/agents.ts); tasks in flight and memory per task: see Agent density.`,
      '',
      ...b,
    ].join('\n'));
  }
  const rows = agentTargets(measures);
  if (rows.length) {
    const c = [
      `Issue 20's targets, from this run's ${parts.join(' and ')} part${parts.length > 1 ? 's' : ''}${densityOf}.`,
      '',
      ...targetsTable(rows),
      ...(measures.cpu ? ['', cpuBudget(measures.cpu)] : []),
    ];
    console.log(`\n${c.join('\n')}`);
    writeSection(join(ROOT, 'bench/RESULTS.md'), ['## Agent targets', '', `Run ${day} on ${machine}. ${command} (bench/agents.ts).`, '', ...c].join('\n'));
  }
} finally {
  killEverything();
}

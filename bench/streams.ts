// Idle event streams benchmark (not run in CI; issue 14 item 5): one node with 2 children holds
// `--streams` idle SSE streams (GET /v1/tasks/:id/events on tasks that run for the whole
// benchmark, opened by keep-alive http.Agent clients), while /healthz, /readyz (each on a new
// connection, as a load balancer's probe) and POST /v1/tasks (a keep-alive client) are timed.
// Reports p50/p99 of each and the resident memory per idle stream (supervisor + children,
// above the same node before the streams).
//   npm run bench:streams -- [--streams 10000] [--probes 300] [--children 2]
// Everything listens on 127.0.0.1; every process started is ended by its pid (bench/lib/procs.ts).
// The bench process itself holds one socket per stream: ulimit -n must be above --streams.
import http from 'node:http';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { killEverything, startProcess, stopProcess, waitForLine } from './lib/procs.ts';
import { benchDir } from './lib/temp-dirs.ts';
import { writeSection } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '10000' },
    probes: { type: 'string', default: '300' },
    children: { type: 'string', default: '2' },
    tasks: { type: 'string', default: '10' },
  },
});
const STREAMS = Number(args.streams);
const PROBES = Number(args.probes);
const CHILDREN = Number(args.children);
const TASKS = Number(args.tasks);
const OPEN_BATCH = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Runs until aborted (the node's drain at the end ends it).
const AGENT = `export default async function run(input, ctx) {
  await new Promise((resolve) => { const t = setTimeout(resolve, input.hold_ms); ctx.signal.addEventListener('abort', () => (clearTimeout(t), resolve())); });
  return { ok: true };
}
`;

const rssBytes = (pids: number[]) => pids.reduce((sum, pid) => sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024, 0);

interface Reply {
  status: number;
  body: string;
}

function call(port: number, path: string, opts: { method?: string; body?: string; agent: http.Agent | false }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: opts.agent, headers: opts.body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`timeout: ${path}`)));
    req.end(opts.body);
  });
}

/** Opens one event stream; resolves once its headers are in. The stream stays open. */
function openStream(port: number, path: string, agent: http.Agent): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { accept: 'text/event-stream' } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

/** `n` calls one after another; latency of each in ms, and the statuses that were not `ok`. */
async function timed(n: number, ok: number, send: () => Promise<Reply>): Promise<{ ms: number[]; bad: number }> {
  const ms: number[] = [];
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await send();
    ms.push(performance.now() - t0);
    if (r.status !== ok) bad++;
    await sleep(10);
  }
  return { ms, bad };
}

async function main(): Promise<void> {
  const dir = benchDir('drover-bench-streams-');
  const agentFile = join(dir, 'agent.mjs');
  writeFileSync(agentFile, AGENT);
  const childPids: number[] = [];
  const node = startProcess('drover', process.execPath, [join(ROOT, 'src/main.ts'), 'start', '--port', '0', '--children', String(CHILDREN)], {
    cwd: dir,
    env: {
      ...process.env,
      DROVER_AUTOSCALE__ENABLED: 'false',
      DROVER_ADMIN__PORT: '0',
      DROVER_SUPERVISOR__STATE_DIR: join(dir, 'state'),
      DROVER_SUPERVISOR__RUNTIME_DIR: join(dir, 'run'),
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '5',
      DROVER_EXECUTOR__AGENT: agentFile,
      DROVER_LIMITS__RATE_PER_SECOND: '1000000',
      DROVER_LIMITS__BURST: '1000000',
    },
    onLine: (line) => {
      if (line.includes('"msg":"child ready"')) childPids.push((JSON.parse(line) as { childPid: number }).childPid);
    },
  });
  const streams: { close: () => void }[] = [];
  const agents: http.Agent[] = [];
  try {
    const listening = await waitForLine(node, (l) => l.includes('"msg":"listening"'), 30_000);
    await waitForLine(node, (l) => l.includes('"msg":"started"'), 60_000);
    const port = (JSON.parse(listening) as { port: number }).port;
    const submitAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(submitAgent);
    const submit = () => call(port, '/v1/tasks', { method: 'POST', body: JSON.stringify({ input: { hold_ms: 3_600_000 } }), agent: submitAgent });
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) ids.push((JSON.parse((await submit()).body) as { id: string }).id);
    await sleep(2000);
    const pids = [node.pid, ...childPids];
    const rssBefore = rssBytes(pids);

    // Keep-alive clients, as an SDK holding event streams would have: a few agents, many sockets each.
    const streamAgents = Array.from({ length: 10 }, () => new http.Agent({ keepAlive: true, maxSockets: Infinity }));
    agents.push(...streamAgents);
    const t0 = performance.now();
    let refused = 0;
    for (let i = 0; i < STREAMS; i += OPEN_BATCH) {
      const batch = await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, STREAMS - i) }, (_, k) =>
        openStream(port, `/v1/tasks/${ids[(i + k) % ids.length]}/events`, streamAgents[(i + k) % streamAgents.length]!)));
      for (const s of batch) {
        if (s.status !== 200) refused++;
        streams.push(s);
      }
    }
    const openS = (performance.now() - t0) / 1000;
    await sleep(3000);
    const rssAfter = rssBytes(pids);

    const health = await timed(PROBES, 200, () => call(port, '/healthz', { agent: false }));
    const ready = await timed(PROBES, 200, () => call(port, '/readyz', { agent: false }));
    const submits = await timed(PROBES, 202, submit);
    const rows: [string, { ms: number[]; bad: number }][] = [['GET /healthz (new connection each)', health], ['GET /readyz (new connection each)', ready], ['POST /v1/tasks (keep-alive client)', submits]];
    const perStream = (rssAfter - rssBefore) / STREAMS;
    const fmt = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
    const lines = [
      '## Idle event streams',
      '',
      `Run ${new Date().toISOString()}, \`npm run bench:streams\` (bench/streams.ts). Machine: ${cpus().length} CPUs, ${cpus()[0]?.model.trim()}. Node ${process.version}. ${CHILDREN} children, defaults otherwise (balancer.child_target 256).`,
      `${STREAMS.toLocaleString('en')} SSE streams (\`GET /v1/tasks/:id/events\` on ${TASKS} tasks that run for the whole benchmark, from 10 keep-alive http.Agent clients) opened in ${openS.toFixed(1)} s, ${refused} refused; then ${PROBES} of each probe, one after another, 10 ms apart, with every stream still open.`,
      '',
      '| probe | p50 ms | p99 ms | max ms | not 2xx |',
      '| --- | --- | --- | --- | --- |',
      ...rows.map(([name, r]) => {
        const s = summarize(r.ms);
        return `| ${name} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.max)} | ${r.bad} |`;
      }),
      '',
      `Resident memory per idle stream (supervisor + children, above the same node before the streams): **${(perStream / 1024).toFixed(1)} KB** (${((rssAfter - rssBefore) / 2 ** 20).toFixed(0)} MB for ${STREAMS.toLocaleString('en')}).`,
      '',
      'Before issue 14 item 5 each open stream counted twice (its connection and its request) against `balancer.child_target`: about 260 streams filled two children and every new connection, /healthz included, waited in the supervisor for `queue_timeout` (30 s) and got 503. Now a child is full only with 256 requests being answered; streams and idle connections count in the load children are compared by, not in that.',
    ];
    const section = lines.join('\n');
    process.stdout.write(`${section}\n`);
    writeSection(join(ROOT, 'bench/RESULTS.md'), section);
  } finally {
    for (const s of streams) s.close();
    for (const a of agents) a.destroy();
    await stopProcess(node, 'SIGTERM', 20_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('SIGINT', () => {
  killEverything();
  process.exit(130);
});
main().catch((err) => {
  console.error(err);
  killEverything();
  process.exit(1);
});

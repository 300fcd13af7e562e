// Fleet benchmark (not in CI): three drover nodes on one Redis behind one HAProxy (configured
// by `drover haproxy-config`, its slots kept by `drover haproxy-sync`) against one node alone
// on the same Redis. Every process runs on this machine, so the fleet shares its cores: the
// figures say what the fleet's own machinery costs and keeps, not what three VMs would add.
//   (a) tasks/s, submitted over keep-alive HTTP: a no-op agent, and the example agent against
//       the mock LLM answering in `--latency` ms;
//   (b) children per node (autoscaler on) over a step load of LLM tasks, sampled every 2 s;
//   (c) kill -9 of a node running tasks: time until HAProxy marks it down, and until the
//       tasks it ran are running elsewhere (their lease ran out, `--lease` s).
//   npm run bench:fleet -- [--noop 2000] [--llm 400] [--rounds 3] [--latency 2000] [--lease 3] [--quick]
// Everything listens on loopback (nodes on 127.0.0.2-4, as on separate VMs); every process
// started is ended by its pid (bench/lib/procs.ts and the test helpers).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { openStore, type Store } from '../src/store/index.ts';
import { ensureHaproxy, freePort, haproxyPaths, serversState, showStat, startHaproxy, stopAllHaproxy, type HaproxyProcess } from '../test/helpers/haproxy.ts';
import { startRedis, type RedisServer } from '../test/helpers/redis.ts';
import { cpuModel } from './lib/cpu.ts';
import { killEverything, runCommand, startProcess, stopProcess, waitForLine, type Managed } from './lib/procs.ts';
import { benchDir } from './lib/temp-dirs.ts';
import { writeSection } from './lib/report.ts';
import { median } from './lib/stats.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src/main.ts');
const { values: args } = parseArgs({
  options: {
    noop: { type: 'string', default: '2000' },
    llm: { type: 'string', default: '400' },
    latency: { type: 'string', default: '2000' },
    lease: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
  },
});
const NOOP_TASKS = Number(args.noop);
const LLM_TASKS = Number(args.llm);
const LATENCY_MS = Number(args.latency);
const LEASE_S = Number(args.lease);
const ROUNDS = Number(args.rounds);
// Small children, so that the step load's top rate (40/s × 2 s = 80 tasks) needs several.
const SLOTS_PER_CHILD = 20;
const SUBMIT_CONCURRENCY = 32;
const PREFIX = 'benchfleet';
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const STEPS = args.quick
  ? [{ s: 6, rate: 0 }, { s: 14, rate: 10 }, { s: 14, rate: 40 }, { s: 12, rate: 0 }]
  : [{ s: 10, rate: 0 }, { s: 30, rate: 10 }, { s: 30, rate: 40 }, { s: 30, rate: 0 }];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg()[0]!.toFixed(1);

interface Node {
  host: string;
  m: Managed;
  port: number;
  admin: number;
}

let redis: RedisServer;
let h: HaproxyProcess;
let agentPort: number;
let store: Store;
let sync: Managed | undefined;

function fleetEnv(): Record<string, string> {
  return {
    DROVER_STORE__BACKEND: 'redis',
    DROVER_STORE__URL: redis.url,
    DROVER_STORE__PREFIX: PREFIX,
    DROVER_FLEET__AGENT_PORT: String(agentPort),
    DROVER_FLEET__HEARTBEAT_INTERVAL: '0.5',
  };
}

async function startNode(host: string, agent: string): Promise<Node> {
  const dir = benchDir('drover-bench-fleet-');
  // Ports from the log lines as they pass: several can come in one chunk, before a later wait starts.
  const ports: Record<string, number> = {};
  const m = startProcess(`drover ${host}`, process.execPath, [MAIN, 'start', '--host', host, '--port', '0', '--children', '1'], {
    cwd: dir,
    onLine: (line) => {
      const l = /"msg":"(admin listening|listening)"/.exec(line);
      if (l) ports[l[1]!] = (JSON.parse(line) as { port: number }).port;
    },
    env: {
      ...process.env,
      ...fleetEnv(),
      DROVER_FLEET__AGENT_HOST: host,
      DROVER_ADMIN__PORT: '0',
      DROVER_SUPERVISOR__STATE_DIR: join(dir, 'state'),
      DROVER_SUPERVISOR__RUNTIME_DIR: join(dir, 'run'),
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '5',
      DROVER_LIMITS__RATE_PER_SECOND: '1000000',
      DROVER_LIMITS__BURST: '1000000',
      DROVER_EXECUTOR__AGENT: agent,
      DROVER_EXECUTOR__THREADS: '1',
      DROVER_EXECUTOR__TASKS_PER_THREAD: String(SLOTS_PER_CHILD),
      DROVER_EXECUTOR__LEASE: String(LEASE_S),
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_LLM__PROVIDERS__MOCK__MOCK_LATENCY_MS: String(LATENCY_MS),
      DROVER_LLM__PROVIDERS__MOCK__CONNECTIONS: String(SLOTS_PER_CHILD),
      DROVER_LLM__PROVIDERS__MOCK__MAX_CONCURRENCY: String(SLOTS_PER_CHILD),
      DROVER_AUTOSCALE__ENABLED: 'true',
      DROVER_AUTOSCALE__MIN_CHILDREN: '1',
      DROVER_AUTOSCALE__MAX_CHILDREN: '3',
      DROVER_AUTOSCALE__INTERVAL: '1',
      DROVER_AUTOSCALE__SCALE_UP_PERIOD: '2',
      DROVER_AUTOSCALE__SCALE_DOWN_WINDOW: '10',
      DROVER_AUTOSCALE__SCALE_DOWN_PERIOD: '4',
    },
  });
  await waitForLine(m, (l) => l.includes('"msg":"started"'), 60_000);
  return { host, m, port: ports.listening!, admin: ports['admin listening']! };
}

async function status(n: Node): Promise<{ totals: { ready: number; runningTasks: number } }> {
  const r = await fetch(`http://127.0.0.1:${n.admin}/status`);
  return (await r.json()) as { totals: { ready: number; runningTasks: number } };
}

async function slotStatus(n: Node): Promise<string | undefined> {
  const state = (await serversState(h, 'be_drover_api')).find((r) => r.srv_addr === n.host && Number(r.srv_port) === n.port);
  return state && (await showStat(h)).find((r) => r.pxname === 'be_drover_api' && r.svname === state.srv_name)?.status;
}

async function untilTrue(what: string, fn: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<number> {
  const start = Date.now();
  while (!(await fn())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await sleep(stepMs);
  }
  return Date.now() - start;
}

/** Submits `n` tasks over `SUBMIT_CONCURRENCY` keep-alive connections; returns their ids. */
async function submitAll(base: string, n: number, input: unknown): Promise<string[]> {
  const pool = new Pool(base, { connections: SUBMIT_CONCURRENCY, pipelining: 1 });
  const ids: string[] = [];
  let next = 0;
  try {
    await Promise.all(Array.from({ length: SUBMIT_CONCURRENCY }, async () => {
      while (next < n) {
        next++;
        const r = await pool.request({ path: '/v1/tasks', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input }) });
        const body = (await r.body.json()) as { id: string };
        if (r.statusCode !== 202) throw new Error(`submit answered ${r.statusCode}: ${JSON.stringify(body)}`);
        ids.push(body.id);
      }
    }));
  } finally {
    await pool.close();
  }
  return ids;
}

async function idle(): Promise<void> {
  await untilTrue('queue empty', async () => {
    const s = await store.stats();
    return s.queued === 0 && s.running === 0;
  }, 300_000, 50);
}

/** Tasks/s from the first submit until the queue is empty again. */
async function throughput(base: string, n: number, input: unknown): Promise<number> {
  const start = performance.now();
  await submitAll(base, n, input);
  await idle();
  return n / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const startedAt = new Date();
  ensureHaproxy();
  redis = await startRedis();
  agentPort = await freePort();
  const frontPort = await freePort();
  const paths = haproxyPaths();
  const generated = await runCommand('haproxy-config', process.execPath, [MAIN, 'haproxy-config'], 30_000, {
    env: {
      ...process.env,
      DROVER_FLEET__AGENT_PORT: String(agentPort),
      DROVER_FLEET__HAPROXY_BIND: `127.0.0.1:${frontPort}`,
      DROVER_FLEET__HAPROXY_STATS_SOCKET: paths.socket,
      DROVER_FLEET__HAPROXY_STATE_FILE: paths.stateFile,
      DROVER_FLEET__HAPROXY_SLOTS: '3',
    },
  });
  if (generated.code !== 0) throw new Error(`haproxy-config failed: ${generated.stderr}`);
  h = await startHaproxy(`${generated.stdout}\n`, paths);
  const front = `http://127.0.0.1:${frontPort}`;
  sync = startProcess('haproxy-sync', process.execPath, [MAIN, 'haproxy-sync'], {
    env: {
      ...process.env, ...fleetEnv(),
      DROVER_FLEET__HAPROXY_STATS_SOCKET: paths.socket,
      DROVER_FLEET__HAPROXY_STATE_FILE: paths.stateFile,
      DROVER_FLEET__HAPROXY_DRAIN_GRACE: '5',
    },
  });
  store = await openStore({ backend: 'redis', path: '', url: redis.url, prefix: PREFIX, password_env: '', queue_limit: 1_000_000, result_ttl: 86_400, session_ttl: 86_400, cleanup_interval: 60, discard_orphaned_wal: false, stateDir: paths.dir });

  const dir = benchDir('drover-bench-fleet-agent-');
  const noop = join(dir, 'noop.mjs');
  writeFileSync(noop, 'export default async function run() { return { ok: true }; }\n');
  // Two agents, one per kind of node: the no-op one for (a)'s first half, the example agent
  // (ctx.tool, two progress events, one LLM call) for everything else.
  const rows: string[] = [];
  const measure = async (label: string, base: string, agentKind: 'noop' | 'llm') => {
    await submitAll(base, 50, agentKind === 'noop' ? {} : 'warm up');
    await idle();
    const rates: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      rates.push(agentKind === 'noop' ? await throughput(base, NOOP_TASKS, {}) : await throughput(base, LLM_TASKS, 'what is drover?'));
      console.log(`${label}, round ${i + 1}: ${rates.at(-1)!.toFixed(1)} tasks/s (load ${load()})`);
    }
    return median(rates);
  };

  const results: Partial<Record<'noop' | 'llm', { alone: number; fleet: number; loadAlone: string; loadFleet: string }>> = {};
  let kill: { downMs: number; elsewhereMs: number; moved: number; load: string } | undefined;
  for (const kind of ['noop', 'llm'] as const) {
    const agent = kind === 'noop' ? noop : '';
    const alone = await startNode(HOSTS[0]!, agent);
    const aloneRate = await measure(`${kind}, one node alone`, `http://${alone.host}:${alone.port}`, kind);
    const loadAlone = load();
    const others = await Promise.all(HOSTS.slice(1).map((host) => startNode(host, agent)));
    const fleet = [alone, ...others];
    for (const n of fleet) await untilTrue(`${n.host} up in HAProxy`, async () => (await slotStatus(n)) === 'UP', 60_000, 200);
    const fleetRate = await measure(`${kind}, three nodes behind HAProxy`, front, kind);
    results[kind] = { alone: aloneRate, fleet: fleetRate, loadAlone, loadFleet: load() };
    if (kind === 'llm') {
      rows.push(...(await stepLoad(front, fleet)));
      kill = { ...(await killOne(front, fleet)), load: load() };
    }
    await Promise.all(fleet.map((n) => stopProcess(n.m, 'SIGTERM', 15_000)));
    // The registry forgets the stopped nodes at once; haproxy-sync frees their slots after its grace.
    await untilTrue('slots freed', async () => (await serversState(h, 'be_drover_api')).filter((r) => r.srv_name).every((r) => r.srv_addr === '192.0.2.1'), 60_000, 200);
  }

  const r = results;
  const section = [
    '## Fleet',
    '',
    `Run ${startedAt.toISOString()}; Node ${process.version}; ${cpuModel()}; \`npm run bench:fleet${args.quick ? ' -- --quick' : ''}\` (bench/fleet.ts).`,
    `Three drover nodes (127.0.0.2-4, one Redis, autoscaler on: 1..3 children of ${SLOTS_PER_CHILD} task slots each) behind HAProxy 2.6 from \`drover haproxy-config\` with \`drover haproxy-sync\`, against the first of them alone, submitted to directly. All on this one machine: the fleet shares its cores, so its rows show what balancing, the registry and the shared queue cost or keep, not what three VMs would add. Tasks submitted over ${SUBMIT_CONCURRENCY} keep-alive connections; tasks/s from the first submit until the queue is empty, median of ${ROUNDS} rounds (the autoscalers keep the children earlier rounds asked for).`,
    '',
    '| workload | one node alone | three nodes behind HAProxy | fleet / alone | 1-min load (alone / fleet) |',
    '| --- | --- | --- | --- | --- |',
    `| no-op agent, ${NOOP_TASKS} tasks | ${r.noop!.alone.toFixed(0)} tasks/s | ${r.noop!.fleet.toFixed(0)} tasks/s | ${(r.noop!.fleet / r.noop!.alone).toFixed(2)} | ${r.noop!.loadAlone} / ${r.noop!.loadFleet} |`,
    `| example agent, mock LLM at ${LATENCY_MS / 1000} s, ${LLM_TASKS} tasks | ${r.llm!.alone.toFixed(1)} tasks/s | ${r.llm!.fleet.toFixed(1)} tasks/s | ${(r.llm!.fleet / r.llm!.alone).toFixed(2)} | ${r.llm!.loadAlone} / ${r.llm!.loadFleet} |`,
    '',
    `kill -9 of a node (supervisor and children) running ${kill!.moved} tasks: HAProxy marked it down after **${(kill!.downMs / 1000).toFixed(1)} s** (checks every 2 s, then 500 ms, fall 3); its tasks were running elsewhere after **${(kill!.elsewhereMs / 1000).toFixed(1)} s** (lease ${LEASE_S} s); load ${kill!.load}.`,
    '',
    `Children per node over a step load of LLM tasks (rate per second, sampled every 2 s; each node sizes for its share of the shared backlog):`,
    '',
    '| t (s) | rate/s | node .2 | node .3 | node .4 | fleet | running tasks | queued |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  console.log(section);
  writeSection(join(ROOT, 'bench/RESULTS.md'), section);
}

/** Submits LLM tasks at each step's rate and samples each node's ready children every 2 s. */
async function stepLoad(front: string, fleet: Node[]): Promise<string[]> {
  // From a settled fleet: the throughput run before scaled it up.
  await untilTrue('one child per node', async () => (await Promise.all(fleet.map(status))).every((s) => s.totals.ready === 1), 120_000, 500);
  const rows: string[] = [];
  const pool = new Pool(front, { connections: SUBMIT_CONCURRENCY, pipelining: 1 });
  const start = Date.now();
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      const t = Math.round((Date.now() - start) / 1000);
      const step = STEPS.find((_, i) => STEPS.slice(0, i + 1).reduce((a, x) => a + x.s, 0) > t) ?? STEPS.at(-1)!;
      const ready = await Promise.all(fleet.map(async (n) => (await status(n)).totals.ready));
      const st = await store.stats();
      rows.push(`| ${t} | ${step.rate} | ${ready.join(' | ')} | ${ready.reduce((a, b) => a + b, 0)} | ${st.running} | ${st.queued} |`);
      await sleep(2000);
    }
  })();
  const inFlight = new Set<Promise<void>>();
  for (const s of STEPS) {
    const end = Date.now() + s.s * 1000;
    for (let i = 0; Date.now() < end; i++) {
      if (s.rate > 0) {
        const p = pool.request({ path: '/v1/tasks', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'step' }) })
          .then((r) => r.body.dump()).catch(() => {}).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await sleep(s.rate > 0 ? 1000 / s.rate : 200);
    }
  }
  await Promise.all(inFlight);
  stop = true;
  await sampler;
  await pool.close();
  await idle();
  return rows;
}

/** kill -9 the last node while it runs tasks: time until HAProxy has it down, and until its tasks run elsewhere. */
async function killOne(front: string, fleet: Node[]): Promise<{ downMs: number; elsewhereMs: number; moved: number }> {
  const victim = fleet.at(-1)!;
  const ids = await submitAll(front, 150, 'killed');
  await untilTrue('victim running tasks', async () => (await status(victim)).totals.runningTasks > 0, 30_000, 50);
  const moved = (await status(victim)).totals.runningTasks;
  process.kill(-victim.m.pid, 'SIGKILL');
  const killedAt = Date.now();
  let downMs = 0;
  const down = untilTrue('victim down in HAProxy', async () => /^(DOWN|MAINT)/.test((await slotStatus(victim)) ?? 'DOWN'), 60_000, 50).then(() => (downMs = Date.now() - killedAt));
  // No task fails here, so a task on its second attempt is one the victim held: its lease ran
  // out and another node claimed it.
  const elsewhere = untilTrue('tasks running elsewhere', async () => {
    const tasks = await Promise.all(ids.map((id) => store.get('anonymous', id)));
    // (One of them may have finished between the count and the kill: an empty queue ends the wait too.)
    const s = await store.stats();
    return tasks.filter((t) => t && t.attempt >= 2).length >= moved || s.queued + s.running === 0;
  }, 60_000, 100).then(() => Date.now() - killedAt);
  const [, elsewhereMs] = await Promise.all([down, elsewhere]);
  await idle();
  return { downMs, elsewhereMs, moved };
}

process.once('SIGINT', () => {
  killEverything();
  process.exit(130);
});
main().then(async () => {
  await store?.close();
  await stopAllHaproxy();
  killEverything();
  await redis?.stop();
}, async (err: unknown) => {
  console.error(err);
  console.error(`haproxy-sync's last lines:\n${sync?.lines.slice(-10).join('\n')}\n${sync?.stderr}`);
  if (h) console.error(await h.runtime('show servers state be_drover_api'));
  killEverything();
  await stopAllHaproxy();
  await redis?.stop();
  process.exit(1);
});

// Autoscaler benchmark (not in CI): a step load idle → heavy → idle → steady against one
// drover with the autoscaler on, sampled every second. Prints time until capacity met demand,
// queue wait p50/p99 per phase, scale events and flaps; writes an SVG plot to
// bench/results/autoscale.svg and the figures to bench/RESULTS.md.
//
//   node bench/autoscale.ts            full run (~8 minutes)
//   node bench/autoscale.ts --quick    shorter phases (~2.5 minutes), for a smoke run
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpuModel } from './lib/cpu.ts';
import { killEverything, startProcess, stopProcess, waitForLine } from './lib/procs.ts';
import { benchDir } from './lib/temp-dirs.ts';
import { writeSection } from './lib/report.ts';
import { percentileSorted } from './lib/stats.ts';
import { plot } from './lib/svg-plot.ts';

const ROOT = resolve(import.meta.dirname, '..');
const quick = process.argv.includes('--quick');
const TICK_S = 2;
const LATENCY_MS = 2000;
const SLOTS = 20; // 1 thread × 20 tasks per thread
const phases = quick
  ? [{ name: 'idle', s: 10, rate: 0 }, { name: 'heavy', s: 40, rate: 25 }, { name: 'idle', s: 60, rate: 0 }, { name: 'steady', s: 45, rate: 8 }]
  : [{ name: 'idle', s: 20, rate: 0 }, { name: 'heavy', s: 60, rate: 25 }, { name: 'idle', s: 100, rate: 0 }, { name: 'steady', s: 300, rate: 8 }];
const DOWN_WINDOW_S = quick ? 20 : 60;

const state = benchDir('drover-bench-');
const env = {
  ...process.env,
  DROVER_SUPERVISOR__STATE_DIR: state,
  DROVER_SUPERVISOR__RUNTIME_DIR: join(state, 'run'),
  DROVER_SUPERVISOR__CHILDREN: '1',
  DROVER_ADMIN__PORT: '0',
  DROVER_AUTOSCALE__MIN_CHILDREN: '1',
  DROVER_AUTOSCALE__MAX_CHILDREN: '4',
  DROVER_AUTOSCALE__INTERVAL: String(TICK_S),
  DROVER_AUTOSCALE__SCALE_UP_PERIOD: String(TICK_S * 2),
  DROVER_AUTOSCALE__SCALE_DOWN_WINDOW: String(DOWN_WINDOW_S),
  DROVER_AUTOSCALE__SCALE_DOWN_PERIOD: String(TICK_S * 5),
  DROVER_EXECUTOR__THREADS: '1',
  DROVER_EXECUTOR__TASKS_PER_THREAD: String(SLOTS),
  DROVER_LLM__PROVIDERS__MOCK__MOCK_LATENCY_MS: String(LATENCY_MS),
  DROVER_LIMITS__RATE_PER_SECOND: '10000',
  DROVER_LIMITS__BURST: '10000',
};
const logs: Record<string, unknown>[] = [];
let port = 0;
let adminPort = 0;
const drover = startProcess('drover', process.execPath, [join(ROOT, 'src/main.ts'), 'start', '--port', '0'], {
  cwd: ROOT,
  env,
  onLine: (line) => {
    try {
      const l = JSON.parse(line) as Record<string, unknown>;
      if (l.role !== 'supervisor') return;
      logs.push(l);
      if (l.msg === 'listening') port = l.port as number;
      if (l.msg === 'admin listening') adminPort = l.port as number;
    } catch {
      // not a log line
    }
  },
});
process.on('SIGINT', () => (killEverything(), process.exit(130)));

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function call(method: string, url: string, body?: string): Promise<{ status: number; json: any }> {
  return new Promise((res, rej) => {
    const req = http.request(url, { method, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (r) => {
      let text = '';
      r.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => res({ status: r.statusCode!, json: text ? JSON.parse(text) : null }));
    });
    req.on('error', rej);
    req.end(body);
  });
}

interface Sample { t: number; ready: number; desired: number; queue: number; oldestWait: number; running: number }

async function main(): Promise<void> {
  await waitForLine(drover, (l) => l.includes('"msg":"started"'), 60_000);
  const t0 = Date.now();
  const since = () => (Date.now() - t0) / 1000;
  const samples: Sample[] = [];
  const sampler = setInterval(async () => {
    const s = (await call('GET', `http://127.0.0.1:${adminPort}/status`)).json;
    const sig = s.autoscale.signals ?? {};
    samples.push({ t: since(), ready: s.totals.ready, desired: s.desired, queue: sig.queueDepth ?? 0, oldestWait: sig.oldestWaitS ?? 0, running: s.totals.runningTasks });
  }, 1000);
  const submitted: { id: string; phase: string }[] = [];
  const phaseStarts: { at: number; label: string }[] = [];
  let failures = 0;
  for (const ph of phases) {
    phaseStarts.push({ at: since(), label: `${ph.name}${ph.rate ? ` ${ph.rate}/s` : ''}` });
    console.log(`${since().toFixed(0)}s phase ${ph.name} (${ph.rate}/s for ${ph.s}s)`);
    const end = Date.now() + ph.s * 1000;
    let n = 0;
    const start = Date.now();
    while (Date.now() < end) {
      const due = Math.floor(((Date.now() - start) / 1000) * ph.rate);
      for (; n < due; n++) {
        call('POST', `http://127.0.0.1:${port}/v1/tasks`, JSON.stringify({ input: `task ${submitted.length}` }))
          .then((r) => (r.status === 202 ? submitted.push({ id: r.json.id, phase: ph.name }) : failures++), () => failures++);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  clearInterval(sampler);
  // Let the last tasks finish, then read every task's timings.
  await new Promise((r) => setTimeout(r, LATENCY_MS * 3));
  const waits = new Map<string, number[]>();
  let notSucceeded = 0;
  for (const s of submitted) {
    const t = (await call('GET', `http://127.0.0.1:${port}/v1/tasks/${s.id}`)).json;
    if (t.status !== 'succeeded') notSucceeded++;
    if (t.started_at) (waits.get(s.phase) ?? waits.set(s.phase, []).get(s.phase)!).push((Date.parse(t.started_at) - Date.parse(t.created_at)) / 1000);
  }
  const decisions = logs.filter((l) => l.msg === 'autoscale decision');
  const heavy = phaseStarts[1]!.at;
  const heavyEnd = phaseStarts[2]!.at;
  const peak = Math.max(...samples.filter((s) => s.t >= heavy && s.t < heavyEnd).map((s) => s.desired));
  const metAt = samples.find((s) => s.t >= heavy && s.ready >= peak)?.t;
  const steadyStart = phaseStarts[3]!.at + 60;
  const steadyDecisions = decisions.filter((l) => Date.parse(l.time as string) - t0 >= steadyStart * 1000);
  // A flap is a reversal the load did not ask for: two decisions in opposite directions
  // within one phase of constant load.
  const phaseOf = (ms: number) => phaseStarts.filter((p) => p.at * 1000 <= ms - t0).length - 1;
  const dated = decisions.map((l) => ({ at: Date.parse(l.time as string), dir: Math.sign((l.desired as number) - (l.from as number)), l }));
  let flaps = 0;
  for (let i = 1; i < dated.length; i++) if (dated[i]!.dir !== dated[i - 1]!.dir && phaseOf(dated[i]!.at) === phaseOf(dated[i - 1]!.at)) flaps++;
  const pct = (xs: number[], p: number) => (xs.length ? percentileSorted([...xs].sort((a, b) => a - b), p * 100) : 0);
  const boot = logs.filter((l) => l.msg === 'child ready').map((l) => l.bootMs as number);
  const rows = [...waits.entries()].map(([ph, w]) => `| ${ph} | ${w.length} | ${pct(w, 0.5).toFixed(2)} | ${pct(w, 0.99).toFixed(2)} |`);
  const report = [
    `## Autoscaler`,
    '',
    `Run ${new Date().toISOString()}${quick ? ' (--quick)' : ''}; Node ${process.version}; ${cpuModel()}.`,
    `Step load through the public API: ${phases.map((p) => `${p.name} ${p.rate}/s for ${p.s}s`).join(' → ')}. Each task waits ${LATENCY_MS} ms on the mock LLM; one child has ${SLOTS} slots; tick ${TICK_S} s, scale-down window ${DOWN_WINDOW_S} s, min 1 / max 4 children.`,
    '',
    `- time from the load step until ready children reached the peak desired count (${peak}): **${metAt === undefined ? 'never' : `${(metAt - heavy).toFixed(1)} s = ${((metAt - heavy) / TICK_S).toFixed(1)} ticks`}**; child boot median ${pct(boot, 0.5)} ms`,
    `- scale events: ${decisions.length} (${dated.filter((d) => d.dir > 0).length} up, ${dated.filter((d) => d.dir < 0).length} down); flaps (opposite decisions within one load phase): **${flaps}**; decisions during the steady phase after its first minute: **${steadyDecisions.length}**`,
    `- tasks: ${submitted.length} submitted, ${failures} refused, ${notSucceeded} not succeeded`,
    '',
    '| decision at | children | driven by |',
    '| --- | --- | --- |',
    ...dated.map((d) => `| ${((d.at - t0) / 1000).toFixed(0)} s (${phaseStarts[phaseOf(d.at)]!.label}) | ${d.l.from as number} → ${d.l.desired as number} | ${String(d.l.reason)} |`),
    '',
    '| phase | tasks | queue wait p50 (s) | queue wait p99 (s) |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    '![autoscaler step load](results/autoscale.svg)',
    '',
  ].join('\n');
  console.log(report);
  const svg = plot('drover autoscaler: step load', [
    { title: 'children', unit: 'count', series: [
      { name: 'ready', color: '#1f77b4', points: samples.map((s) => [s.t, s.ready]), step: true },
      { name: 'desired', color: '#ff7f0e', points: samples.map((s) => [s.t, s.desired]), step: true },
    ] },
    { title: 'tasks', unit: 'count', series: [
      { name: 'queued', color: '#d62728', points: samples.map((s) => [s.t, s.queue]) },
      { name: 'running', color: '#2ca02c', points: samples.map((s) => [s.t, s.running]) },
    ] },
    { title: 'oldest queued task', unit: 's waited', series: [{ name: 'oldest wait', color: '#9467bd', points: samples.map((s) => [s.t, s.oldestWait]) }] },
  ], phaseStarts);
  writeFileSync(join(ROOT, 'bench/results/autoscale.svg'), svg);
  writeSection(join(ROOT, 'bench/RESULTS.md'), report);
}

main().then(
  () => stopProcess(drover).then(() => process.exit(0)),
  (err: unknown) => {
    console.error(err);
    killEverything();
    process.exit(1);
  },
);

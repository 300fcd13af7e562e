// Balancer benchmark: drover beside node:cluster (SCHED_RR, SCHED_NONE), PM2 cluster mode and
// one process, 2 children each, in one run (method: shared/research/baselines.md).
//   (a) hello-world throughput with wrk, keep-alive and a new connection per request;
//   (b) tail latency under mixed cost with an open-loop generator (10% of requests burn
//       40 ms of CPU), with a new connection per request, 20 keep-alive connections, and
//       with 10% long-lived requests (2 s) to see how those spread over the children.
// Variants take turns within each round; the table shows medians over rounds.
//   npm run bench:balancer -- [--rounds 3] [--duration 10] [--only drover-ll,node-rr,node-plain]
//                             [--workloads ka,close,mixed-conn,mixed-ka,mixed-hold]
//                             [--from-raw bench/results/raw/<file>.jsonl]   (table only)
// Everything listens on and talks to 127.0.0.1; every process started is ended by its pid.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuModel, cpuWindow, waitForQuiet } from './lib/cpu.ts';
import type { OpenLoopOptions, OpenLoopResult } from './lib/openloop.ts';
import { killEverything, runCommand } from './lib/procs.ts';
import { loadRaw, renderSection, Results, writeSection, type RunMeta, type RunNotes, type RunRecord, type WorkloadKey } from './lib/report.ts';
import { pm2Version, ROOT, VARIANTS, type Running, type Variant } from './lib/servers.ts';
import { runWrk, wrkVersion } from './lib/wrk.ts';

const WORKLOADS: readonly WorkloadKey[] = ['ka', 'close', 'mixed-conn', 'mixed-hold', 'mixed-ka'];
// Before each measurement, wait (bounded) until the machine is this quiet with our servers idle.
const QUIET_PCT = 15;
const QUIET_WAIT_S = 10;
// Other tenants' share of the CPU above which a measurement is taken again.
const NOISY_PCT = 15;
const LABEL: Record<WorkloadKey, string> = {
  ka: 'wrk keep-alive',
  close: 'wrk Connection: close',
  'mixed-conn': 'mixed, conn/request',
  'mixed-hold': 'mixed + 10% held 2 s',
  'mixed-ka': 'mixed, 20 keep-alive',
};

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    'ol-duration': { type: 'string', default: '12' },
    rate: { type: 'string', default: '250' },
    seed: { type: 'string', default: '42' },
    only: { type: 'string' },
    workloads: { type: 'string' },
    // Renders the table again from a raw file instead of measuring.
    'from-raw': { type: 'string' },
  },
});
const rounds = Math.max(1, Math.min(20, Number(args.rounds)));
const wrkS = Math.max(1, Math.min(120, Number(args.duration)));
const warmupS = Math.max(0, Math.min(30, Number(args.warmup)));
const olS = Math.max(1, Math.min(120, Number(args['ol-duration'])));
const rate = Math.max(1, Math.min(2000, Number(args.rate)));
const seed = Number(args.seed) || 42;
const pick = <T extends string>(list: string | undefined, all: readonly T[]): T[] => {
  if (!list) return [...all];
  const wanted = list.split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !all.includes(w as T));
  if (unknown.length) throw new Error(`unknown: ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return all.filter((a) => wanted.includes(a));
};
const variants: Variant[] = pick(args.only, VARIANTS.map((v) => v.key)).map((k) => VARIANTS.find((v) => v.key === k)!);
const workloads = pick(args.workloads, WORKLOADS);

function applies(v: Variant, w: WorkloadKey): boolean {
  // The plain cluster is the yardstick of keep-alive throughput only (issue 16 item 6).
  if (v.key === 'node-plain') return w === 'ka';
  // One process has no spread to show.
  return !(v.children < 2 && w === 'mixed-hold');
}

function openLoopOptions(port: number, w: WorkloadKey): OpenLoopOptions {
  return {
    host: '127.0.0.1',
    port,
    rate,
    warmupS,
    durationS: olS,
    mode: w === 'mixed-ka' ? 'keepalive' : 'conn',
    connections: 20,
    heavyShare: 0.1,
    heavyMs: 40,
    holdShare: w === 'mixed-hold' ? 0.1 : 0,
    holdMs: 2000,
    seed,
    timeoutMs: 10_000,
  };
}

/**
 * Measures once more when other tenants took more than NOISY_PCT of the CPU during the first
 * attempt (the VM is shared), and keeps the quieter attempt; the other goes to the raw file.
 */
async function measure(v: Variant, srv: Running, w: WorkloadKey, round: number): Promise<{ kept: RunRecord; discarded?: RunRecord }> {
  const first = await measureOnce(v, srv, w, round);
  if (!first.cpu || first.cpu.otherPct <= NOISY_PCT) return { kept: first };
  process.stderr.write(`  other tenants took ${first.cpu.otherPct.toFixed(1)}% of the CPU: measuring again\n`);
  let second: RunRecord;
  try {
    second = await measureOnce(v, srv, w, round);
  } catch (err) {
    return { kept: first, discarded: { round, variant: v.key, workload: w, at: new Date().toISOString(), error: (err as Error).message, discarded: true } };
  }
  const [kept, discarded] = (second.cpu?.otherPct ?? Infinity) < first.cpu.otherPct ? [second, first] : [first, second];
  return { kept, discarded: { ...discarded, discarded: true } };
}

async function measureOnce(v: Variant, srv: Running, w: WorkloadKey, round: number): Promise<RunRecord> {
  const rec: RunRecord = { round, variant: v.key, workload: w, at: new Date().toISOString() };
  rec.quiet = await waitForQuiet(QUIET_PCT, QUIET_WAIT_S, srv.cpuRoots);
  if (w === 'ka' || w === 'close') {
    const o = { url: `http://127.0.0.1:${srv.port}/v1/ping`, threads: 1, connections: 100, close: w === 'close', timeoutS: 5 };
    if (warmupS > 0) await runWrk({ ...o, durationS: warmupS });
    const end = cpuWindow(srv.cpuRoots);
    rec.wrk = await runWrk({ ...o, durationS: wrkS });
    rec.cpu = end();
  } else {
    const o = openLoopOptions(srv.port, w);
    const end = cpuWindow(srv.cpuRoots);
    const r = await runCommand('openloop', process.execPath, [join(ROOT, 'bench/lib/openloop.ts'), JSON.stringify(o)], (warmupS + olS + 60) * 1000);
    rec.cpu = end();
    if (r.code !== 0) throw new Error(`openloop exited with ${r.code}: ${r.stderr.slice(-500)}`);
    rec.openloop = JSON.parse(r.stdout.trim().split('\n').pop()!) as OpenLoopResult;
  }
  return rec;
}

function progress(rec: RunRecord, v: Variant): string {
  const other = rec.cpu ? ` other ${rec.cpu.otherPct.toFixed(1)}%` : '';
  if (rec.error) return `${v.label} · ${LABEL[rec.workload]}: FAILED ${rec.error}`;
  if (rec.wrk) return `${v.label} · ${LABEL[rec.workload]}: ${Math.round(rec.wrk.rps)} req/s p99 ${rec.wrk.p99Ms} ms${other}`;
  const o = rec.openloop!;
  // NaN travels through JSON as null (no successful request of that kind).
  const ms = (x: number | null) => (x === null ? '–' : x.toFixed(1));
  const errs = Object.values(o.errors).reduce((a, b) => a + b, 0);
  const warm = Object.values(o.warmupErrors).reduce((a, b) => a + b, 0);
  return `${v.label} · ${LABEL[rec.workload]}: light p50/p99/max ${ms(o.light.p50)}/${ms(o.light.p99)}/${ms(o.light.max)} ms, ` +
    `all p99 ${ms(o.all.p99)}, errors ${errs} (+${warm} in warm-up), lag p99 ${ms(o.sendLag.p99)}${other}`;
}

/**
 * A server that went away (crashed, or stopped by someone else's signal on this shared
 * machine) spoils the measurement: it is noted, a fresh server started, and measured again once.
 */
async function measureSurviving(v: Variant, w: WorkloadKey, round: number, rawFile: string): Promise<RunRecord> {
  for (let attempt = 1; ; attempt++) {
    let srv = current!;
    if (!srv.alive()) srv = await restart(v, srv, rawFile, round);
    const last = attempt >= 2;
    try {
      const m = await measure(v, srv, w, round);
      if (m.discarded) appendFileSync(rawFile, `${JSON.stringify(m.discarded)}\n`);
      if (srv.alive() || last) return m.kept;
      appendFileSync(rawFile, `${JSON.stringify({ ...m.kept, discarded: true, error: 'server went away during the measurement' })}\n`);
    } catch (err) {
      if (srv.alive() || last) return { round, variant: v.key, workload: w, at: new Date().toISOString(), error: (err as Error).message };
    }
  }
}

/** Replaces a server that went away, keeping what it logged about why. */
async function restart(v: Variant, dead: Running, rawFile: string, round: number): Promise<Running> {
  await dead.stop();
  process.stderr.write(`  ${v.label} went away by itself; starting a fresh one. It logged: ${dead.warnings.join(' | ').slice(0, 600)}\n`);
  const restart = `${v.label}, round ${round}: ${dead.warnings.find((w) => w.includes('stopping')) ?? dead.warnings[0] ?? 'no log line'}`;
  appendFileSync(rawFile, `${JSON.stringify({ restart, warnings: dead.warnings })}\n`);
  notes.restarts.push(restart);
  current = await v.start();
  return current;
}
const notes: RunNotes = { restarts: [], serverNotes: [] };

let current: Running | undefined;
let aborting = false;
async function abort(why: string): Promise<never> {
  if (!aborting) {
    aborting = true;
    process.stderr.write(`\n${why}: stopping what runs\n`);
    await Promise.race([current?.stop(), new Promise((r) => setTimeout(r, 30_000))]);
    for (const w of current?.warnings ?? []) process.stderr.write(`  server: ${w}\n`);
  }
  killEverything();
  process.exit(130);
}
process.on('SIGINT', () => void abort('SIGINT'));
process.on('SIGTERM', () => void abort('SIGTERM'));

async function measureAll(rawFile: string, results: Results): Promise<RunMeta> {
  const needsWrk = workloads.includes('ka') || workloads.includes('close');
  if (needsWrk && spawnSync('wrk', ['--version']).error) {
    const r = spawnSync('sh', [join(ROOT, 'scripts/ensure-tools.sh')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('wrk is missing and scripts/ensure-tools.sh could not install it');
  }
  const started = Date.now();
  const meta: RunMeta = {
    startedAt: new Date(started).toISOString(),
    minutes: 0,
    machine: `${cpus().length} CPUs (nproc), ${cpuModel()}, Linux ${release()}`,
    versions: `Node ${process.version}, wrk ${needsWrk ? await wrkVersion() : '–'}, PM2 ${pm2Version()}`,
    rounds, wrkS, warmupS, olS, rate,
    quietPct: QUIET_PCT, quietWaitS: QUIET_WAIT_S, noisyPct: NOISY_PCT,
    full: !args.only && !args.workloads,
  };
  appendFileSync(rawFile, `${JSON.stringify({ meta })}\n`);
  process.stderr.write(`balancer bench: ${variants.length} variants × ${workloads.length} workloads × ${rounds} rounds; raw → ${rawFile}\n`);

  for (let round = 1; round <= rounds; round++) {
    // Rotate who goes first, so no variant always runs right after the same neighbour.
    const order = variants.map((_, i) => variants[(i + round - 1) % variants.length]!);
    for (const v of order) {
      const todo = workloads.filter((w) => applies(v, w));
      if (todo.length === 0) continue;
      try {
        current = await v.start();
      } catch (err) {
        for (const w of todo) results.records.push({ round, variant: v.key, workload: w, at: new Date().toISOString(), error: (err as Error).message });
        process.stderr.write(`[${round}/${rounds}] ${v.label}: could not start: ${(err as Error).message}\n`);
        continue;
      }
      try {
        for (const w of todo) {
          const rec = await measureSurviving(v, w, round, rawFile);
          results.records.push(rec);
          appendFileSync(rawFile, `${JSON.stringify(rec)}\n`);
          process.stderr.write(`[${round}/${rounds} ${Math.round((Date.now() - started) / 1000)}s] ${progress(rec, v)}\n`);
        }
      } finally {
        await current.stop();
        if (current.warnings.length) {
          const logged = current.warnings.map((note) => `${v.label}, round ${round}: ${note.slice(0, 300)}`);
          notes.serverNotes.push(...logged);
          appendFileSync(rawFile, `${JSON.stringify({ notes: logged })}\n`);
          process.stderr.write(`  ${v.label} logged ${current.warnings.length} warnings/errors, e.g. ${current.warnings[0]}\n`);
        }
        current = undefined;
      }
    }
  }
  meta.minutes = Math.round((Date.now() - started) / 60_000);
  appendFileSync(rawFile, `${JSON.stringify({ meta })}\n`);
  return meta;
}

async function main(): Promise<void> {
  const results = new Results(variants);
  let meta: RunMeta;
  if (args['from-raw']) {
    ({ meta } = loadRaw(args['from-raw'], results, notes));
  } else {
    const rawDir = join(ROOT, 'bench/results/raw');
    mkdirSync(rawDir, { recursive: true });
    meta = await measureAll(join(rawDir, `balancer-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`), results);
  }
  const section = renderSection(meta, results, notes);
  process.stdout.write(`\n${section}\n`);
  if (meta.full) {
    writeSection(join(ROOT, 'bench/RESULTS.md'), section);
    process.stderr.write('written to bench/RESULTS.md\n');
  } else {
    process.stderr.write('partial run (--only / --workloads): bench/RESULTS.md left as it was\n');
  }
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(`balancer bench failed: ${(err as Error).stack ?? String(err)}\n`);
    if (current) await current.stop();
    killEverything();
    process.exit(1);
  },
);

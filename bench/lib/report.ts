// Turns the per-run records into one markdown table of medians (with ratios to node:cluster
// SCHED_RR and to PM2), the targets of the balancer issue, and the RESULTS.md section.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { CpuUse } from './cpu.ts';
import type { OpenLoopResult } from './openloop.ts';
import type { Variant, VariantKey } from './servers.ts';
import { median, spread } from './stats.ts';
import type { WrkResult } from './wrk.ts';

export type WorkloadKey = 'ka' | 'close' | 'mixed-conn' | 'mixed-hold' | 'mixed-ka';

export interface RunRecord {
  round: number;
  variant: VariantKey;
  workload: WorkloadKey;
  at: string;
  quiet?: { waitedS: number; busyPct: number };
  cpu?: CpuUse;
  wrk?: WrkResult;
  openloop?: OpenLoopResult;
  error?: string;
  /** A noisier attempt replaced by a second one (raw file only). */
  discarded?: boolean;
}

interface Row {
  label: string;
  workload: WorkloadKey;
  value?: (r: RunRecord) => number;
  /** Latency ratios read the other way round (lower is better); the labels say which is which. */
  unit?: 'rps' | 'ms' | 'pct';
  ratios?: boolean;
  /** Free-form cell instead of a median. */
  cell?: (rs: RunRecord[], v: Variant) => string;
}

/** Rounds in which other tenants took more of the CPU than this are left out of the medians. */
export const EXCLUDE_PCT = 25;

const ol = (f: (o: OpenLoopResult) => number) => (r: RunRecord) => (r.openloop ? f(r.openloop) : Number.NaN);
const wrk = (f: (w: WrkResult) => number) => (r: RunRecord) => (r.wrk ? f(r.wrk) : Number.NaN);

const splitOf = (counts: Record<string, number>) =>
  Object.entries(counts).sort(([a], [b]) => Number(a) - Number(b)).map(([, n]) => n).join('/') || '–';
const pct = (x: number) => (Number.isFinite(x) ? `±${Math.round(x * 100)}%` : '–');

const ROWS: Row[] = [
  { label: 'hello, keep-alive (wrk -c100): req/s', workload: 'ka', value: wrk((w) => w.rps), unit: 'rps', ratios: true },
  { label: 'hello, keep-alive: p99 ms', workload: 'ka', value: wrk((w) => w.p99Ms), unit: 'ms' },
  { label: 'hello, new connection per request: req/s', workload: 'close', value: wrk((w) => w.rps), unit: 'rps', ratios: true },
  { label: 'hello, new connection per request: p99 ms', workload: 'close', value: wrk((w) => w.p99Ms), unit: 'ms' },
  { label: 'mixed, conn/request: light p50 ms', workload: 'mixed-conn', value: ol((o) => o.light.p50), unit: 'ms' },
  { label: 'mixed, conn/request: **light p99 ms**', workload: 'mixed-conn', value: ol((o) => o.light.p99), unit: 'ms', ratios: true },
  { label: 'mixed, conn/request: light max ms', workload: 'mixed-conn', value: ol((o) => o.light.max), unit: 'ms' },
  { label: 'mixed, conn/request: all p99 ms', workload: 'mixed-conn', value: ol((o) => o.all.p99), unit: 'ms', ratios: true },
  { label: 'mixed, conn/request: machine busy %', workload: 'mixed-conn', value: (r) => r.cpu?.machinePct ?? Number.NaN, unit: 'pct' },
  { label: 'mixed, 20 keep-alive: light p50 ms', workload: 'mixed-ka', value: ol((o) => o.light.p50), unit: 'ms' },
  { label: 'mixed, 20 keep-alive: **light p99 ms**', workload: 'mixed-ka', value: ol((o) => o.light.p99), unit: 'ms', ratios: true },
  { label: 'mixed, 20 keep-alive: light max ms', workload: 'mixed-ka', value: ol((o) => o.light.max), unit: 'ms' },
  { label: 'mixed, 20 keep-alive: all p99 ms', workload: 'mixed-ka', value: ol((o) => o.all.p99), unit: 'ms', ratios: true },
  { label: 'mixed, 20 keep-alive: connections per child (each round)', workload: 'mixed-ka',
    cell: (rs) => rs.map((r) => (r.openloop ? splitOf(r.openloop.connsByChild) : 'err')).join(' · ') || '–' },
  { label: 'long-lived (10% hold 2 s): holds per child, spread', workload: 'mixed-hold',
    cell: (rs, v) => {
      const s = rs.filter((r) => r.openloop).map((r) => spread(r.openloop!.holdByChild, v.children));
      if (!s.some(Number.isFinite)) return '–';
      return `${pct(median(s))} (worst ${pct(Math.max(...s))}; ${splitOf(rs.find((r) => r.openloop)!.openloop!.holdByChild)})`;
    } },
  { label: 'long-lived: light p99 ms', workload: 'mixed-hold', value: ol((o) => o.light.p99), unit: 'ms', ratios: true },
];

function fmt(x: number, unit: Row['unit'] = 'ms'): string {
  if (!Number.isFinite(x)) return '–';
  if (unit === 'rps') return Math.round(x).toLocaleString('en-US');
  if (unit === 'pct') return `${x.toFixed(0)}%`;
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}

export class Results {
  readonly records: RunRecord[] = [];
  private readonly variants: readonly Variant[];

  constructor(variants: readonly Variant[]) {
    this.variants = variants;
  }

  /**
   * The rounds a median is taken over: those where other tenants left the machine mostly to
   * us (otherPct ≤ EXCLUDE_PCT), or every round when none did. `excluded` counts the others.
   */
  private runs(variant: VariantKey, workload: WorkloadKey): RunRecord[] {
    const all = this.records.filter((r) => r.variant === variant && r.workload === workload);
    const quiet = all.filter((r) => !((r.cpu?.otherPct ?? 0) > EXCLUDE_PCT));
    return quiet.length > 0 ? quiet : all;
  }

  excluded(): number {
    const keys = new Set(this.records.map((r) => `${r.variant} ${r.workload}`));
    let n = 0;
    for (const k of keys) {
      const [variant, workload] = k.split(' ') as [VariantKey, WorkloadKey];
      n += this.records.filter((r) => r.variant === variant && r.workload === workload).length - this.runs(variant, workload).length;
    }
    return n;
  }

  /** Median over rounds of a metric; NaN when no round produced it. */
  med(variant: VariantKey, workload: WorkloadKey, value: (r: RunRecord) => number): number {
    return median(this.runs(variant, workload).map(value));
  }

  private values(variant: VariantKey, workload: WorkloadKey, value: (r: RunRecord) => number): number[] {
    return this.runs(variant, workload).map(value).filter(Number.isFinite);
  }

  table(): string {
    const head = `| | ${this.variants.map((v) => v.label).join(' | ')} |`;
    const rule = `|---|${this.variants.map(() => '---').join('|')}|`;
    const lines = [head, rule];
    for (const row of ROWS) {
      const cells = this.variants.map((v) => {
        const rs = this.runs(v.key, row.workload);
        if (rs.length === 0) return '–';
        if (row.cell) return row.cell(rs, v);
        const x = this.med(v.key, row.workload, row.value!);
        if (!row.ratios || !Number.isFinite(x)) return fmt(x, row.unit);
        const ratio = (ref: VariantKey) => {
          const r = x / this.med(ref, row.workload, row.value!);
          return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
        };
        return `${fmt(x, row.unit)} (${ratio('node-rr')}, ${ratio('pm2')})`;
      });
      lines.push(`| ${row.label} | ${cells.join(' | ')} |`);
    }
    lines.push(`| errors (all runs) | ${this.variants.map((v) => this.errorCell(v.key)).join(' | ')} |`);
    lines.push(`| other tenants' CPU %, median (max) | ${this.variants.map((v) => this.otherCpuCell(v.key)).join(' | ')} |`);
    return lines.join('\n');
  }

  private errorCell(variant: VariantKey): string {
    const kinds: Record<string, number> = {};
    for (const r of this.records.filter((x) => x.variant === variant)) {
      const add = (k: string, n: number) => (kinds[k] = (kinds[k] ?? 0) + n);
      if (r.error) add('run failed', 1);
      for (const [k, n] of Object.entries(r.wrk?.errors ?? {})) add(`wrk ${k}`, n);
      for (const [k, n] of Object.entries(r.openloop?.errors ?? {})) add(`${r.workload} ${k}`, n);
      for (const [k, n] of Object.entries(r.openloop?.warmupErrors ?? {})) add(`${r.workload} warm-up ${k}`, n);
    }
    const total = Object.values(kinds).reduce((a, b) => a + b, 0);
    if (total === 0) return '0';
    return `${total} (${Object.entries(kinds).map(([k, n]) => `${k}: ${n}`).join(', ')})`;
  }

  private otherCpuCell(variant: VariantKey): string {
    const xs = this.records.filter((r) => r.variant === variant && r.cpu).map((r) => r.cpu!.otherPct).filter(Number.isFinite);
    if (xs.length === 0) return '–';
    return `${median(xs).toFixed(1)} (${Math.max(...xs).toFixed(1)})`;
  }

  /**
   * Median over rounds of a/b, each pair from one round (taken within a minute or so). The
   * verdict is the ratio of medians; this one shows it again with the machine's drift between
   * rounds taken out: a shared VM's speed can swing for minutes, for every variant alike.
   */
  private pairedRatio(a: VariantKey, b: VariantKey, workload: WorkloadKey, value: (r: RunRecord) => number): number {
    const ratios: number[] = [];
    const others = this.runs(b, workload);
    for (const r of this.runs(a, workload)) {
      const o = others.find((x) => x.round === r.round);
      const q = o ? value(r) / value(o) : Number.NaN;
      if (Number.isFinite(q)) ratios.push(q);
    }
    return ratios.length ? median(ratios) : Number.NaN;
  }

  /** The issue's targets for drover's default (least-load), each with its evidence. */
  targets(): string[] {
    const d: VariantKey = 'drover-ll';
    const out: string[] = [];
    const check = (name: string, workload: WorkloadKey, value: (r: RunRecord) => number, ref: VariantKey, op: '>=' | '<=', limit: number) => {
      const a = this.med(d, workload, value);
      const b = this.med(ref, workload, value);
      const ratio = a / b;
      const ok = Number.isFinite(ratio) ? (op === '>=' ? ratio >= limit : ratio <= limit) : undefined;
      const range = (k: VariantKey) => {
        const xs = this.values(k, workload, value);
        return xs.length ? `${fmt(Math.min(...xs), 'ms')}..${fmt(Math.max(...xs), 'ms')}` : '–';
      };
      const mark = ok === undefined ? 'not measured' : ok ? 'MET' : 'NOT MET';
      const paired = this.pairedRatio(d, ref, workload, value);
      const byRound = Number.isFinite(paired) ? `; round by round ${paired.toFixed(2)}×` : '';
      out.push(`- ${name}: **${mark}** — ${ratio.toFixed(2)}× ${ref}${byRound} (target ${op} ${limit}×; drover ${range(d)}, ${ref} ${range(ref)} over rounds)`);
    };
    check('keep-alive throughput ≥ 0.97× node RR', 'ka', wrk((w) => w.rps), 'node-rr', '>=', 0.97);
    check("keep-alive throughput ≥ 1.0× node:cluster with defaults (the user's yardstick, issue 16 item 6)", 'ka', wrk((w) => w.rps), 'node-plain', '>=', 1.0);
    check('new connection per request ≥ 1.0× node RR', 'close', wrk((w) => w.rps), 'node-rr', '>=', 1.0);
    check('new connection per request ≥ 1.3× PM2', 'close', wrk((w) => w.rps), 'pm2', '>=', 1.3);
    check('light p99 under mixed cost, conn/request ≤ 0.9× node RR', 'mixed-conn', ol((o) => o.light.p99), 'node-rr', '<=', 0.9);
    check('light p99 under mixed cost, keep-alive ≤ 0.6× node RR', 'mixed-ka', ol((o) => o.light.p99), 'node-rr', '<=', 0.6);
    const spreads = this.runs(d, 'mixed-hold').filter((r) => r.openloop).map((r) => spread(r.openloop!.holdByChild, 2));
    const worst = spreads.length ? Math.max(...spreads) : Number.NaN;
    const mark = Number.isFinite(worst) ? (worst <= 0.1 ? 'MET' : 'NOT MET') : 'not measured';
    out.push(`- long-lived connections spread within ±10%: **${mark}** — worst round ${pct(worst)} (rounds: ${spreads.map(pct).join(', ')})`);
    return out;
  }
}

/**
 * Writes a run's section into RESULTS.md. `section` starts with its `## ` heading; what follows
 * goes between two markers under that heading and replaces only what the last run put there:
 * the hand-written subsections beside it (measurements, their reading, older runs) stay as they
 * are. A section not in the file yet is appended; one without markers gets them right under its
 * heading, above what was written by hand.
 */
export function writeSection(file: string, section: string): void {
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  writeFileSync(file, withSection(old, section));
}

/** The text of a RESULTS.md with `section` written into it (see writeSection). */
export function withSection(text: string, section: string): string {
  const [heading, ...rest] = section.trim().split('\n');
  if (!heading!.startsWith('## ')) throw new Error(`a RESULTS.md section must start with "## ", got ${JSON.stringify(heading)}`);
  const name = heading!.slice(3).trim();
  const begin = `<!-- latest run: ${name} (written by the bench; edits here are overwritten) -->`;
  const end = `<!-- end of latest run: ${name} -->`;
  const block = `${begin}\n${rest.join('\n').trim()}\n${end}`;
  const from = text.indexOf(begin);
  const to = from < 0 ? -1 : text.indexOf(end, from);
  if (from >= 0 && to > from) return `${text.slice(0, from)}${block}${text.slice(to + end.length)}`;
  const escaped = heading!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const at = new RegExp(`^${escaped}[ \\t]*$`, 'm').exec(text);
  if (!at) return `${text.trimEnd()}\n\n${heading}\n\n${block}\n`;
  const after = at.index + at[0].length;
  return `${text.slice(0, after)}\n\n${block}\n\n${text.slice(after).replace(/^\n+/, '')}`;
}

export interface RunMeta {
  startedAt: string;
  minutes: number;
  machine: string;
  versions: string;
  rounds: number;
  wrkS: number;
  warmupS: number;
  olS: number;
  rate: number;
  quietPct: number;
  quietWaitS: number;
  noisyPct: number;
  /** Every variant and workload ran (not an --only / --workloads subset). */
  full: boolean;
}

/** What a run leaves besides its records: servers that went away, and what servers logged. */
export interface RunNotes {
  restarts: string[];
  serverNotes: string[];
}

export function renderSection(meta: RunMeta, results: Results, notes: RunNotes): string {
  const excluded = results.excluded();
  return [
    '## Balancer',
    '',
    `Run ${meta.startedAt.slice(0, 16).replace('T', ' ')} UTC, \`npm run bench:balancer\` (${meta.minutes} min). Machine: ${meta.machine}. ${meta.versions}.`,
    `${meta.rounds} rounds, variants taking turns; 2 children/workers each; medians over rounds. wrk: \`-t1 -c100 -d${meta.wrkS}s --latency\` after a ${meta.warmupS} s warm-up. ` +
      `Mixed cost: open loop at ${meta.rate} req/s, ${meta.warmupS} s warm-up + ${meta.olS} s measured, latency from the scheduled send time, seeded 10% \`/debug/spin?ms=40\`, the rest \`/v1/ping\`; ` +
      '"long-lived" adds a seeded 10% `/debug/hold?ms=2000` (new connection per request; its "all" leaves the holds out). ' +
      "Peers run `bench/peers/server.cjs`, the same fastify routes with drover's default server settings (keep-alive 5 s, 1000 requests per connection); " +
      "the `node:cluster, defaults` column (keep-alive only) runs `bench/peers/plain-cluster.cjs` with Node's and fastify's defaults instead, the user's yardstick of issue 16 item 6.",
    `The machine is shared: before each measurement the run waits (up to ${meta.quietWaitS} s) for it to be under ${meta.quietPct}% busy; a measurement during which other tenants took over ${meta.noisyPct}% of the CPU is taken again and the quieter attempt kept; ` +
      `rounds where they still took over ${EXCLUDE_PCT}% are left out of the medians when a quieter round exists (${excluded} left out in this run; all are in the raw file). ` +
      'Cells with ratios: median (× node:cluster SCHED_RR, × PM2). Errors: wrk socket errors and non-2xx, generator timeouts and failed requests. ' +
      "Other tenants' CPU: machine busy time not spent by the benchmark's own processes, % of all CPUs, over every kept round.",
    '',
    results.table(),
    '',
    'Targets (drover least-load, the default):',
    '',
    ...results.targets(),
    '',
    ...(notes.restarts.length
      ? ['Servers that went away by themselves during the run (restarted, the measurement taken again):', '', ...notes.restarts.map((r) => `- ${r}`), '']
      : []),
    ...(notes.serverNotes.length
      ? [`Warnings and errors the servers logged (${notes.serverNotes.length}; first 10):`, '', ...notes.serverNotes.slice(0, 10).map((n) => `- \`${n.replace(/`/g, "'")}\``), '']
      : []),
  ].join('\n');
}

/** Reads a raw file back (to render the table again without measuring again). */
export function loadRaw(file: string, results: Results, notes: RunNotes): { meta: RunMeta } {
  let meta: RunMeta | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const x = JSON.parse(line) as Partial<RunRecord> & { meta?: RunMeta; restart?: string; notes?: string[] };
    if (x.meta) meta = x.meta;
    else if (x.restart) notes.restarts.push(x.restart);
    else if (x.notes) notes.serverNotes.push(...x.notes);
    else if (x.workload && !x.discarded) results.records.push(x as RunRecord);
  }
  if (!meta) throw new Error(`${file} has no meta line (written by an older version of the benchmark?)`);
  return { meta };
}

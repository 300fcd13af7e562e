// `drover top`: the status page in a terminal. It asks the supervisor for the page's view over
// the control socket once a second and redraws in place (alternate screen, `q` quits); when
// stdout is not a terminal it prints one plain line a second instead.
import type { Sample, View } from '../admin/view.ts';
import type { TenantRow } from '../admin/tenants.ts';
import { control } from './control-client.ts';
import { duration, mb, table } from './render.ts';
import { EXIT } from './usage.ts';

const REFRESH_MS = 1000;
const BARS = '▁▂▃▄▅▆▇█';

/** One character per bucket of samples (the bucket's largest value), scaled to `max`. */
export function sparkline(values: readonly (number | undefined)[], width: number, max = Math.max(0, ...values.map((v) => v ?? 0))): string {
  if (width <= 0 || values.length === 0) return '';
  const step = Math.max(1, Math.ceil(values.length / width));
  let out = '';
  for (let i = Math.max(0, values.length - step * width); i < values.length; i += step) {
    const bucket = values.slice(i, i + step).filter((v) => v !== undefined);
    if (bucket.length === 0) out += ' ';
    else {
      const v = Math.max(...bucket);
      out += max <= 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))];
    }
  }
  return out;
}

const ms = (s: number | undefined) => (s === undefined ? '-' : `${Math.round(s * 1000)}ms`);

/** The tenant table of the status page on one line: queued/running, and refusals when any. */
export function tenantsLine(rows: readonly TenantRow[]): string {
  return `tenants ${rows.map((r) => `${r.tenant} ${r.queued}q/${r.running}r${r.limitedPerMin > 0 ? ` ${r.limitedPerMin} limited/min` : ''}`).join('  ')}`;
}

/** The whole screen for one view, `cols` wide, at most `rows` lines. */
export function renderTop(view: View, samples: readonly Sample[], cols: number, rows: number): string[] {
  const s = view.status;
  const a = s.autoscale;
  const t = view.tasks;
  const x = view.traffic;
  const head = [
    `drover ${s.version}  pid ${s.pid}  up ${duration(s.uptimeS)}  ${s.listening ?? '-'}  generation ${s.generation}${s.draining ? '  DRAINING' : ''}  (q quits)`,
    `children ${s.totals.ready} ready / ${s.desired} desired ${a.enabled ? (a.pinned ? '(pinned)' : `(autoscaled ${String(a.min)}..${String(a.max)})`) : '(autoscale off)'}` +
      `   req/s ${x.reqPerS.toFixed(1)}  p50 ${ms(x.p50S)}  p95 ${ms(x.p95S)}  waiting ${x.waiting}  refused ${x.refusedTotal}`,
    t.available
      ? `tasks queued ${t.queued}  running ${t.running}/${view.executor.slotsTotal}  oldest wait ${t.oldestWaitS.toFixed(1)}s  ok/min ${t.succeededPerMin ?? '-'}  failed/min ${t.failedPerMin ?? '-'}  dead ${t.dead}`
      : 'tasks: store unavailable',
    ...(t.tenants.length ? [tenantsLine(t.tenants)] : []),
    '',
  ];
  const grid = [['SLOT', 'ID', 'PID', 'STATE', 'UPTIME', 'CONNS', 'REQS', 'TASKS', 'RSS', 'LAG', 'RESTARTS']];
  for (const c of s.children) {
    grid.push([String(c.slot), String(c.id), String(c.pid ?? '-'), c.state, duration(c.uptimeS), String(c.connections), String(c.inflight),
      `${c.runningTasks}/${c.taskSlots}`, mb(c.rss), ms(c.eventLoopLagS), c.restarts ? `${c.restarts} (${c.lastRestart ?? '?'})` : '0']);
  }
  const label = (name: string) => name.padEnd(16);
  const width = Math.max(10, cols - 17);
  const peak = Math.max(1, ...samples.map((p) => Math.max(p.desired, p.actual)));
  const spark = [
    '',
    `${label('load (conns)')}${sparkline(samples.map((p) => p.connections), width)}`,
    `${label('queue')}${sparkline(samples.map((p) => p.queued), width)}`,
    `${label(`desired (≤${peak})`)}${sparkline(samples.map((p) => p.desired), width, peak)}`,
    `${label('actual')}${sparkline(samples.map((p) => p.actual), width, peak)}`,
    '',
    'last decisions:',
    ...(view.decisions.length ? view.decisions.slice(-5).reverse().map((d) => `  ${new Date(d.at).toLocaleTimeString()}  ${d.from} → ${d.to}  (${d.metric}) ${d.reason}`) : ['  none in the last 15 minutes']),
  ];
  return [...head, ...table(grid).split('\n'), ...spark].slice(0, rows).map((l) => (l.length > cols ? l.slice(0, cols) : l));
}

/** One line per refresh, for pipes and logs. */
export function plainLine(view: View): string {
  const s = view.status;
  const t = view.tasks;
  return `${new Date(view.at).toISOString()} children ${s.totals.ready}/${s.desired} conns ${s.totals.connections} inflight ${s.totals.inflight} ` +
    `tasks ${s.totals.runningTasks}/${s.totals.taskSlots} queued ${t.queued} req/s ${view.traffic.reqPerS.toFixed(1)} restarts ${Object.values(s.restarts).reduce((n, k) => n + k, 0)}`;
}

/** Runs until `q` (or Ctrl-C, or a signal); returns the exit code. */
export async function top(socket: string): Promise<number> {
  const out = process.stdout;
  const tty = out.isTTY && process.stdin.isTTY;
  const samples: Sample[] = [];
  let stopped = false;
  let wake = () => {};
  const quit = () => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', quit).once('SIGTERM', quit);
  const onKey = (key: Buffer) => {
    if (key.includes(0x71) || key.includes(0x51) || key.includes(0x03)) quit(); // q, Q, Ctrl-C
  };
  if (tty) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', onKey).resume();
    out.write('\x1b[?1049h\x1b[?25l');
  }
  try {
    while (!stopped) {
      const r = await control(socket, { cmd: 'view', since: samples.at(-1)?.at ?? 0 });
      if (!r.ok) throw new Error(r.error ?? 'the supervisor did not answer with a view');
      const view = r.view as View;
      samples.push(...view.samples);
      samples.splice(0, samples.length - view.historyS);
      if (tty) out.write(`\x1b[H${renderTop(view, samples, out.columns || 80, out.rows || 24).map((l) => `${l}\x1b[K`).join('\n')}\x1b[J`);
      else out.write(`${plainLine(view)}\n`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, REFRESH_MS);
        wake = () => (clearTimeout(timer), resolve());
      });
    }
    return EXIT.ok;
  } finally {
    process.off('SIGINT', quit).off('SIGTERM', quit);
    if (tty) {
      out.write('\x1b[?25h\x1b[?1049l');
      process.stdin.off('data', onKey).setRawMode(false);
      process.stdin.pause();
    }
  }
}

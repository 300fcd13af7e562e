import type { FleetListing } from '../fleet/registry.ts';
import type { Status } from '../supervisor/status.ts';

export const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)}MB`;

export function duration(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** `drover status` for people. */
export function renderStatus(s: Status): string {
  const head = [
    `drover ${s.version} (node ${s.node}), supervisor pid ${s.pid}, up ${duration(s.uptimeS)}`,
    `listening ${s.listening ?? '-'}, generation ${s.generation}${s.draining ? ', DRAINING' : ''}`,
    `children: ${s.totals.ready} ready of ${s.desired} desired` +
      (s.autoscale.enabled ? (s.autoscale.pinned ? ' (pinned by drover scale; autoscale suspended)' : ' (autoscaled)') : ' (autoscale off)'),
  ];
  const rows = [['ID', 'PID', 'STATE', 'UPTIME', 'CONNS', 'REQS', 'TASKS', 'RSS', 'LAG', 'RESTARTS']];
  for (const c of s.children) {
    rows.push([
      String(c.id), String(c.pid ?? '-'), c.state, duration(c.uptimeS), String(c.connections), String(c.inflight),
      `${c.runningTasks}/${c.taskSlots}`, mb(c.rss), `${Math.round(c.eventLoopLagS * 1000)}ms`, String(c.restarts),
    ]);
  }
  const t = s.totals;
  rows.push(['total', '', `${t.children}`, '', String(t.connections), String(t.inflight), `${t.runningTasks}/${t.taskSlots}`, mb(t.rss), '', String(Object.values(s.restarts).reduce((a, b) => a + b, 0))]);
  const tail = [`waiting in supervisor: ${s.balancer.waiting}, idle keep-alive there: ${s.balancer.idle}, refused: ${s.balancer.refused}, timed out: ${s.balancer.timedOut}; reloads ok ${s.reloads.ok}, failed ${s.reloads.failed}`];
  const decisions = s.autoscale.decisions as { at: string; desired: number; reason: string }[] | undefined;
  if (decisions?.length) tail.push('last autoscale decisions:', ...decisions.map((d) => `  ${d.at}  → ${d.desired}  ${d.reason}`));
  return [...head, '', table(rows), '', ...tail].join('\n');
}

/** `drover status --fleet` for people: a line per node, then the totals. */
export function renderFleet(f: FleetListing): string {
  const rows = [['NODE', 'ADDRESS', 'VERSION', 'CHILDREN', 'TASKS', 'LOAD', 'REQS', 'STATE', 'SEEN']];
  for (const n of f.nodes) {
    rows.push([
      n.id, `${n.address}:${n.port}`, n.version, `${n.children}/${n.maxChildren}`, `${n.running}/${n.slots}`,
      `${Math.round(n.load * 100)}%`, String(n.inflight), n.draining ? 'draining' : 'serving', `${Math.round(n.ageS)}s ago`,
    ]);
  }
  const t = f.totals;
  rows.push([`${t.nodes} nodes`, '', '', `${t.children}/${t.maxChildren}`, `${t.running}/${t.slots}`, t.slots ? `${Math.round((t.running / t.slots) * 100)}%` : '-', String(t.inflight), t.draining ? `${t.draining} draining` : '', '']);
  const head = f.shared ? 'fleet (shared Redis registry)' : 'fleet of one: the SQLite store is not shared; use store.backend = "redis" for several nodes';
  return [head, '', table(rows)].join('\n');
}

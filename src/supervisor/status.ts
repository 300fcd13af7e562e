import pkg from '../../package.json' with { type: 'json' };
import type { Supervisor } from './supervisor.ts';

export interface ChildStatus {
  id: number;
  slot: number;
  pid?: number;
  generation: number;
  state: string;
  uptimeS: number;
  connections: number;
  inflight: number;
  runningTasks: number;
  taskSlots: number;
  rss: number;
  eventLoopLagS: number;
  handed: number;
  restarts: number;
  /** Why this slot's child was last restarted (crash, hang, memory, …). */
  lastRestart?: string;
}

export interface Status {
  pid: number;
  version: string;
  node: string;
  uptimeS: number;
  listening?: string;
  /** The public socket's TCP port (absent on a unix socket). */
  port?: number;
  generation: number;
  desired: number;
  draining: boolean;
  autoscale: Record<string, unknown>;
  children: ChildStatus[];
  totals: { children: number; ready: number; connections: number; inflight: number; runningTasks: number; taskSlots: number; rss: number; waiting: number };
  restarts: Record<string, number>;
  reloads: { ok: number; failed: number };
  balancer: { waiting: number; refused: number; timedOut: number; handoffFailed: number; idle: number; returned: number; rebound: number };
}

const startedAt = Date.now();

function autoscaleStatus(sup: Supervisor): Record<string, unknown> {
  const a = sup.autoscaler;
  return {
    enabled: Boolean(a),
    pinned: sup.pinned,
    desired: sup.desired,
    actual: sup.readyCount(),
    ...(a && { min: a.policy.min_children, max: a.policy.max_children, signals: a.lastSignals, decisions: a.decisions }),
  };
}

/** What `drover status` and the admin /status endpoint show. */
export function snapshot(sup: Supervisor): Status {
  const now = Date.now();
  const children: ChildStatus[] = [...sup.children.values()].sort((a, b) => a.slot - b.slot || a.id - b.id).map((c) => ({
    id: c.id,
    slot: c.slot,
    pid: c.pid,
    generation: c.generation,
    state: c.state,
    uptimeS: Math.round((now - c.startedAt) / 1000),
    connections: c.report?.connections ?? 0,
    inflight: c.report?.inflight ?? 0,
    runningTasks: c.report?.runningTasks ?? 0,
    taskSlots: c.report?.taskSlots ?? 0,
    rss: c.report?.rss ?? 0,
    eventLoopLagS: c.report?.eventLoopLag ?? 0,
    handed: sup.balancer.stats.handed.get(c.id) ?? 0,
    restarts: sup.counters.slotRestarts(c.slot),
    lastRestart: sup.counters.slotLastRestart(c.slot),
  }));
  const sum = (k: 'connections' | 'inflight' | 'runningTasks' | 'taskSlots' | 'rss') => children.reduce((n, c) => n + c[k], 0);
  return {
    pid: process.pid,
    version: pkg.version,
    node: process.version,
    uptimeS: Math.round((now - startedAt) / 1000),
    listening: sup.listener?.address,
    port: sup.listener?.port,
    generation: sup.generation,
    desired: sup.desired,
    draining: sup.draining,
    autoscale: autoscaleStatus(sup),
    children,
    totals: {
      children: children.length,
      ready: sup.readyCount(),
      connections: sum('connections'),
      inflight: sum('inflight'),
      runningTasks: sum('runningTasks'),
      taskSlots: sum('taskSlots'),
      rss: sum('rss'),
      waiting: sup.balancer.waiting,
    },
    restarts: Object.fromEntries(sup.counters.restarts),
    reloads: sup.counters.reloads,
    balancer: {
      waiting: sup.balancer.waiting,
      refused: sup.balancer.stats.refused,
      timedOut: sup.balancer.stats.timedOut,
      handoffFailed: sup.balancer.stats.handoffFailed,
      idle: sup.idle.size,
      returned: sup.idle.returned,
      rebound: sup.idle.rebound,
    },
  };
}

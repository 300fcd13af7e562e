import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { AutoscaleLoop, resolvePolicy, type Signals } from '../autoscaler/index.ts';
import type { FleetView } from '../autoscaler/fleet.ts';
import type { Sizing } from '../config/sizing.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { Supervisor } from './supervisor.ts';

/** Memory the kernel can still hand out (MemAvailable counts reclaimable cache; freemem does not). */
function availableMemoryMb(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return freemem() / 2 ** 20;
}

/**
 * Measures one tick for the autoscaler from the children's last reports and the queue in the
 * store. Latency metrics are the worst child's: one child far behind is a reason to grow.
 */
export async function measure(sup: Supervisor, store: Store, slotsFallback: number, fleet?: () => Promise<FleetView>): Promise<Signals | undefined> {
  const ready = [...sup.children.values()].filter((c) => c.state === 'ready');
  if (ready.length === 0) return undefined;
  const reports = ready.map((c) => c.report).filter((r) => r !== undefined);
  const stats = await store.stats();
  const max = (xs: number[]) => (xs.length ? Math.max(...xs) : 0);
  return {
    children: ready.length,
    starting: [...sup.children.values()].filter((c) => c.state === 'starting' && !c.isReplacement).length,
    slotsPerChild: max(reports.map((r) => r.taskSlots)) || slotsFallback,
    runningTasks: reports.reduce((n, r) => n + r.runningTasks, 0),
    queueDepth: stats.queued,
    oldestWaitS: stats.oldestWaitMs / 1000,
    queueWaitP95S: max(reports.map((r) => r.queueWaitP95 ?? 0)),
    httpP95S: max(reports.map((r) => r.httpP95 ?? 0)),
    eventLoopLagS: max(reports.map((r) => r.eventLoopLag)),
    freeMemoryMb: availableMemoryMb(),
    ...(fleet && { fleet: await fleet() }),
  };
}

/** `fleet`: the other nodes sharing the queue (a shared registry), so this node sizes for its share. */
export function startAutoscaler(sup: Supervisor, store: Store, sizing: Sizing, log: Logger, fleet?: () => Promise<FleetView>): AutoscaleLoop | undefined {
  if (!sup.config.autoscale.enabled) return undefined;
  const policy = resolvePolicy(sup.config.autoscale, sizing.maxChildren);
  const loop = new AutoscaleLoop(policy, {
    signals: () => measure(sup, store, sizing.slotsPerChild, fleet),
    paused: () => sup.pinned || sup.draining || sup.busy(),
    apply: (desired, d) => sup.scale(desired, `autoscale (${d.metric}): ${d.reason}`),
  }, log, (d) => sup.counters.autoscaled(d.direction, d.metric));
  sup.attachAutoscaler(loop);
  loop.start();
  log.info({ min: policy.min_children, max: policy.max_children, intervalS: policy.interval }, 'autoscaler started');
  return loop;
}

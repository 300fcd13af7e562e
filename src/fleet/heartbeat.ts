// A node's side of the registry: what it writes about itself, and the beat that keeps it there.
import { hostname, networkInterfaces } from 'node:os';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { Status } from '../supervisor/status.ts';
import { TTL_BEATS, type NodeInfo, type RegisteredNode, type Registry } from './registry.ts';

const WILDCARD = new Set(['', '0.0.0.0', '::', '[::]']);

/** The address other machines reach this node at: fleet.advertise_address, a specific server.host, or the first external IPv4. */
export function advertisedAddress(config: Pick<Config, 'fleet' | 'server'>, interfaces = networkInterfaces()): string {
  if (config.fleet.advertise_address) return config.fleet.advertise_address;
  if (!WILDCARD.has(config.server.host)) return config.server.host;
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** This node as the registry holds it, from its status. */
export function nodeInfo(status: Status, config: Pick<Config, 'fleet' | 'server'>, maxChildren: number, address: string): NodeInfo {
  const port = status.port ?? config.server.port;
  const ready = status.children.filter((c) => c.state === 'ready');
  const slots = ready.reduce((n, c) => n + c.taskSlots, 0);
  const running = status.totals.runningTasks;
  return {
    id: config.fleet.node_id || `${hostname()}:${port}`,
    address,
    port,
    agentPort: config.fleet.agent_port,
    version: status.version,
    children: ready.length,
    maxChildren,
    slots,
    running,
    inflight: status.totals.inflight,
    load: slots > 0 ? Math.round((running / slots) * 1000) / 1000 : 0,
    draining: status.draining,
    startedAt: new Date(Date.now() - status.uptimeS * 1000).toISOString(),
  };
}

/**
 * Whether a node belongs in the registry: not once `drover drain` has let its last child
 * exit. A drained node serves nothing, so it leaves (haproxy-sync frees its slot) and comes
 * back with its next beat after `drover reload` or `drover scale` ends the drain.
 */
export function inFleet(status: Pick<Status, 'draining' | 'children'>): boolean {
  return !(status.draining && status.children.length === 0);
}

export interface Heartbeat {
  /** The live nodes as of the last beat (this one included), sorted by id. */
  nodes(): RegisteredNode[];
  /** This node's registry id (once it has beaten). */
  id(): string | undefined;
  /** Removes this node from the registry (a node that stops leaves at once). */
  stop(): Promise<void>;
}

/**
 * Writes `info()` into the registry now and every `intervalMs`; a failed beat is logged once
 * per outage. While `info()` is undefined the node is out of the fleet: it leaves once and
 * only reads the registry.
 */
export function startHeartbeat(registry: Registry, info: () => NodeInfo | undefined, intervalMs: number, log: Logger): Heartbeat {
  let failing = false;
  let lastId: string | undefined;
  let pending: Promise<void> = Promise.resolve();
  let live: RegisteredNode[] = [];
  let stopped = false;
  let leaving: Promise<void> | undefined;
  let away = false;
  const beat = () => {
    const node = info();
    if (node) lastId = node.id;
    const write = node
      ? registry.beat(node, intervalMs * TTL_BEATS).then(() => (away = false))
      : away || lastId === undefined
        ? Promise.resolve()
        : registry.leave(lastId).then(() => {
          away = true;
          log.info({ node: lastId }, 'node drained: left the fleet registry');
        });
    pending = write.then(async () => {
      if (failing) log.info({ node: lastId }, 'fleet registry reachable again');
      failing = false;
      // Read back with the beat: the autoscaler and `drover status --fleet` use this list.
      const nodes = await registry.nodes();
      if (!stopped) live = nodes;
    }).catch((err: unknown) => {
      if (!failing) log.warn({ err, node: lastId }, 'fleet registry heartbeat failed; other nodes will see this node expire if it goes on');
      failing = true;
    });
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  timer.unref();
  return {
    nodes: () => live,
    id: () => lastId,
    stop() {
      leaving ??= (async () => {
        stopped = true;
        clearInterval(timer);
        await pending;
        if (lastId !== undefined) await registry.leave(lastId).catch((err: unknown) => log.warn({ err }, 'could not leave the fleet registry; the entry expires by itself'));
      })();
      return leaving;
    },
  };
}

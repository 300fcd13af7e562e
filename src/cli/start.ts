import { loadConfig, type LoadOptions } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { computeSizing, readMachine } from '../config/sizing.ts';
import { createLogger, resolveLogFormat } from '../log.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { ensurePrivateDir, withResolvedDirs } from '../config/paths.ts';
import { SupervisorMetrics } from '../supervisor/metrics.ts';
import { startAdmin } from '../supervisor/admin.ts';
import { ControlServer } from '../supervisor/control.ts';
import { startAutoscaler } from '../supervisor/autoscale.ts';
import { Monitor } from '../admin/monitor.ts';
import { openStore } from '../store/index.ts';
import { ConfigError, issue } from '../config/errors.ts';
import { preflight } from './preflight.ts';
import { removeExtracted } from '../worker-pool/files.ts';
import { isSea } from 'node:sea';
import { checkBoundAddress } from '../config/bind.ts';
import { startFleetAgent } from '../fleet/agent-server.ts';
import { fleetListing, openRegistry } from '../fleet/registry.ts';
import { advertisedAddress, inFleet, nodeInfo, startHeartbeat, type Heartbeat } from '../fleet/heartbeat.ts';
import { snapshot } from '../supervisor/status.ts';
import { resolvePolicy } from '../autoscaler/index.ts';
import { EXIT } from './usage.ts';

/**
 * `drover start`: the supervisor in the foreground. Signals map to the supervisor's verbs
 * (TERM/INT stop, HUP reload with a re-read config, TTIN/TTOU scale by one); the control
 * socket and the admin endpoint serve the other commands and Prometheus.
 */
export async function start(load: LoadOptions): Promise<number> {
  // Everything drover writes (the store and its -wal/-shm, the control socket) is its user's
  // alone; children inherit the mask.
  process.umask(0o077);
  // Directories and log.format are resolved here, once, so every child and executor thread
  // (forked now or by a reload) uses what the supervisor uses.
  const resolved = (c: Config): Config => {
    const r = withResolvedDirs(c);
    return { ...r, log: { ...r.log, format: resolveLogFormat(r.log.format) } };
  };
  const read = () => resolved(loadConfig(load).config);
  const loaded = loadConfig(load);
  const config = resolved(loaded.config);
  // A store.path the operator chose lives where they put it (still 0600 by the mask).
  if (!config.store.path) ensurePrivateDir(config.supervisor.state_dir, 'state');
  // Before anything listens or forks: a child that cannot load the agent fails only after its boot attempts.
  const checks = await preflight(config, loaded.sources);
  if (checks.errors.length > 0) throw new ConfigError(checks.errors.map((e) => issue('CONFIG_INVALID', e)));
  const log = createLogger({ role: 'supervisor' }, config.log.level, config.log.format);
  for (const w of checks.warnings) log.warn(w);
  // Opened before anything is started or forked: a store that cannot be opened (or is
  // damaged) ends the start here, naming the file and the reason. The supervisor reads the
  // queue's depth for the autoscaler and removes expired results; it never claims a task.
  const store = await openStore({
    ...config.store, stateDir: config.supervisor.state_dir, checkIntegrity: true, warn: (msg) => log.warn(msg), log,
  });
  const sizing = computeSizing(config, readMachine());
  // The fleet registry lives in the same store: Redis shares it between nodes.
  const registry = await openRegistry(config.store).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  // Anonymous access is judged by the address the public socket really has (a socket from
  // systemd ignores server.host), at start and again for each reloaded config.
  const sup: Supervisor = new Supervisor(config, log, sizing.children, {
    vetAddress: (bound, where) => checkBoundAddress(sup.config.auth, bound, where),
    reloadConfig: () => {
      const next = read();
      if (sup.listener?.bound) checkBoundAddress(next.auth, sup.listener.bound, sup.listener.where);
      return next;
    },
  });
  log.info({ children: sizing.children, threads: sizing.threads, tasksPerThread: sizing.tasksPerThread, limitedBy: sizing.limitedBy }, 'sizing');

  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  // A second TERM/INT reaches sup.stop() again, which kills what is left.
  let stopping = false;
  let heartbeat: Heartbeat | undefined;
  const stop = (why: string, code: number = EXIT.ok) => {
    stopping = true;
    // A node that stops leaves the fleet registry at once; the others take over its share.
    void heartbeat?.stop();
    const p = sup.stop(why, code);
    void p.then(stopped);
    return p;
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => void sup.reload());
  process.on('SIGTTIN', () => sup.pin(sup.desired + 1));
  process.on('SIGTTOU', () => sup.pin(sup.desired - 1));

  const metrics = new SupervisorMetrics(sup);
  const monitor = new Monitor(sup, store, sizing, log);
  const fleet = async () => fleetListing(registry.shared, await registry.nodes());
  const control = await ControlServer.start(sup, monitor, fleet, config.supervisor.runtime_dir, log, () => stop('drover stop'));
  const cleanup = setInterval(() => {
    store.cleanup().then((r) => (r.tasks || r.sessions) && log.info(r, 'expired tasks and sessions removed'), (err: unknown) => log.error({ err }, 'store cleanup failed'));
  }, config.store.cleanup_interval * 1000);
  cleanup.unref();
  monitor.start();
  let admin: Awaited<ReturnType<typeof startAdmin>> | undefined;
  let agent: Awaited<ReturnType<typeof startFleetAgent>>;
  try {
    admin = await startAdmin(sup, monitor, metrics, config.admin, log);
    // Up before the children: HAProxy hears `down #no ready child` until the first is ready.
    agent = await startFleetAgent(sup, () => stopping, () => store.fault(), log);
    await sup.start();
  } catch (err) {
    await stop('start failed', EXIT.failure);
    admin?.close();
    await agent?.close();
    await control.close();
    await registry.close();
    await store.close();
    if (isSea()) removeExtracted(config.supervisor.runtime_dir);
    throw err;
  }
  const maxChildren = resolvePolicy(config.autoscale, sizing.maxChildren).max_children;
  const address = advertisedAddress(config);
  const info = () => {
    const status = snapshot(sup);
    return inFleet(status) ? nodeInfo(status, sup.config, maxChildren, address) : undefined;
  };
  const beats = (heartbeat = startHeartbeat(registry, info, config.fleet.heartbeat_interval * 1000, log));
  metrics.fleetNodes = monitor.fleetNodes = beats.nodes;
  // Peers only with a shared registry: a node alone sizes itself as before. Read at each tick,
  // not from the last beat: that list can be a beat old, and nodes started together each saw
  // themselves alone until their next beat and sized the whole fleet by themselves.
  const peers = registry.shared
    ? async () => {
      const nodes = await registry.nodes().catch(() => beats.nodes());
      const self = beats.id() ?? '';
      return { self, selfMax: maxChildren, peers: nodes.filter((n) => n.id !== self).map((n) => ({ id: n.id, children: n.children, running: n.running, maxChildren: n.maxChildren, draining: n.draining })) };
    }
    : undefined;
  const autoscaler = startAutoscaler(sup, store, sizing, log, peers);
  const code = await done;
  await beats.stop();
  await registry.close();
  autoscaler?.stop();
  monitor.stop();
  clearInterval(cleanup);
  admin?.close();
  await agent?.close();
  await control.close();
  await store.close();
  // Every child has exited: the executor files the binary's children extracted can go.
  if (isSea()) removeExtracted(config.supervisor.runtime_dir);
  return code;
}

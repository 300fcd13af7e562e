import { renameSync, writeFileSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { applyCommands, readSlots, reconcile, runtimeCommand, unplaced, type SyncState } from '../fleet/haproxy-sync.ts';
import { openRegistry } from '../fleet/registry.ts';
import { createLogger } from '../log.ts';
import { EXIT } from './usage.ts';

/**
 * `drover haproxy-sync [--once]`: on the HAProxy host, reconciles the fleet registry into
 * HAProxy's slots every fleet.heartbeat_interval until SIGTERM (or once). After a change it
 * saves `show servers state` to fleet.haproxy_state_file, so a reload of HAProxy keeps the
 * slots' addresses and states.
 */
export async function haproxySync(config: Config, once: boolean): Promise<number> {
  const log = createLogger({ role: 'haproxy-sync' }, config.log.level, config.log.format);
  const f = config.fleet;
  if (config.store.backend !== 'redis') {
    process.stderr.write('drover: haproxy-sync reads the fleet registry, which needs store.backend = "redis"\n');
    return EXIT.config;
  }
  const registry = await openRegistry(config.store);
  let state: SyncState = { missingSince: new Map() };
  let stateFileWarned = false;
  let failing = false;
  const tick = async (): Promise<boolean> => {
    try {
      const [nodes, slots] = await Promise.all([registry.nodes(), readSlots(f.haproxy_stats_socket)]);
      const r = reconcile(slots, nodes, state, Date.now(), f.haproxy_drain_grace * 1000);
      state = r.state;
      if (failing) log.info('haproxy and the registry reachable again');
      failing = false;
      const short = unplaced(slots, nodes);
      if (short > 0) log.warn({ nodes: short }, 'nodes without a free HAProxy slot: raise fleet.haproxy_slots and regenerate the config');
      if (r.commands.length === 0) return true;
      const problems = await applyCommands(f.haproxy_stats_socket, r.commands);
      log.info({ commands: r.commands, problems }, problems.length ? 'haproxy slots updated, with errors' : 'haproxy slots updated');
      saveState();
      return problems.length === 0;
    } catch (err) {
      if (!failing) log.warn({ err }, 'haproxy-sync tick failed; retrying');
      failing = true;
      return false;
    }
  };
  const saveState = () => {
    void runtimeCommand(f.haproxy_stats_socket, 'show servers state').then((text) => {
      const tmp = `${f.haproxy_state_file}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, f.haproxy_state_file);
    }).catch((err: unknown) => {
      if (!stateFileWarned) log.warn({ err, file: f.haproxy_state_file }, 'cannot save the server state file; a reload of HAProxy starts from its config until haproxy-sync sets the slots again');
      stateFileWarned = true;
    });
  };
  if (once) {
    const ok = await tick();
    await registry.close();
    return ok ? EXIT.ok : EXIT.failure;
  }
  log.info({ socket: f.haproxy_stats_socket, intervalS: f.heartbeat_interval, graceS: f.haproxy_drain_grace }, 'haproxy-sync started');
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  process.once('SIGTERM', () => stop());
  process.once('SIGINT', () => stop());
  for (;;) {
    await tick();
    const next = await Promise.race([stopped.then(() => 'stop'), new Promise((r) => setTimeout(r, f.heartbeat_interval * 1000, 'tick'))]);
    if (next === 'stop') break;
  }
  await registry.close();
  log.info('haproxy-sync stopped');
  return EXIT.ok;
}

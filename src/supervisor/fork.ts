import cluster from 'node:cluster';
import { isSea } from 'node:sea';
import type { Config } from '../config/schema.ts';
import { CHILD_CONFIG_ENV, CHILD_ID_ENV, SUPERVISOR_ONLY_ENV } from '../ipc/env.ts';
import { childNodeOptions } from '../worker-pool/heap.ts';
import { ChildHandle } from './child.ts';

/**
 * How children are started. Inside the single binary, cluster.fork() re-runs the binary and
 * would append the binary path to the child's argv again; a bare marker as `exec` avoids
 * that (shared/research/haproxy_sea.md §2.4). stdout is inherited so child logs go straight to
 * journald; stderr comes through the supervisor, which keeps the last lines of a child that
 * cannot boot.
 */
export function setupFork(): void {
  const sea = isSea();
  cluster.setupPrimary({
    exec: sea ? '--drover-child' : process.argv[1],
    // V8 flags for a child go in its NODE_OPTIONS (forkChild), which the single binary reads too.
    execArgv: sea ? [] : process.execArgv,
    args: [],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
}

/**
 * Forks child `id` into `slot` with the running config. `replacement`: it replaces another
 * child (a reload, a memory replacement) and holds no slot of its own until it takes over.
 */
export function forkChild(id: number, slot: number, generation: number, config: Config, replacement: boolean): ChildHandle {
  const env: Record<string, string | undefined> = {
    [CHILD_CONFIG_ENV]: JSON.stringify(config),
    [CHILD_ID_ENV]: String(id),
  };
  const nodeOptions = childNodeOptions(process.env.NODE_OPTIONS, config.executor.main_semi_space_mb);
  if (nodeOptions !== undefined) env.NODE_OPTIONS = nodeOptions;
  // systemd's notify socket and activated sockets belong to the supervisor alone.
  for (const k of SUPERVISOR_ONLY_ENV) env[k] = undefined;
  return new ChildHandle(id, slot, generation, cluster.fork(env), config.balancer.child_target, replacement, config.supervisor.heartbeat_interval * 1000);
}

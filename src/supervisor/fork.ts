import cluster from 'node:cluster';
import { isSea } from 'node:sea';

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
    execArgv: sea ? [] : process.execArgv,
    args: [],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
}

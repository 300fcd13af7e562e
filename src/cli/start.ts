import { loadConfig, type LoadOptions } from '../config/load.ts';
import { computeSizing, readMachine } from '../config/sizing.ts';
import { createLogger } from '../log.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { withResolvedDirs } from '../supervisor/paths.ts';
import { SupervisorMetrics } from '../supervisor/metrics.ts';
import { startAdmin } from '../supervisor/admin.ts';
import { ControlServer } from '../supervisor/control.ts';
import { startAutoscaler } from '../supervisor/autoscale.ts';
import { openStore } from '../store/index.ts';
import { checkAuthBind } from '../http/api/auth.ts';
import { startFleetAgent } from '../fleet/agent-server.ts';
import { EXIT } from './usage.ts';

/**
 * `drover start`: the supervisor in the foreground. Signals map to the supervisor's verbs
 * (TERM/INT stop, HUP reload with a re-read config, TTIN/TTOU scale by one); the control
 * socket and the admin endpoint serve the other commands and Prometheus.
 */
export async function start(load: LoadOptions): Promise<number> {
  const read = () => withResolvedDirs(loadConfig(load).config);
  const config = read();
  checkAuthBind(config);
  const log = createLogger({ role: 'supervisor' }, config.log.level);
  const sizing = computeSizing(config, readMachine());
  const sup = new Supervisor(config, log, sizing.children);
  sup.reloadConfig = read;
  log.info({ children: sizing.children, threads: sizing.threads, tasksPerThread: sizing.tasksPerThread, limitedBy: sizing.limitedBy }, 'sizing');

  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  // A second TERM/INT reaches sup.stop() again, which kills what is left.
  let stopping = false;
  const stop = (why: string, code: number = EXIT.ok) => {
    stopping = true;
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
  const control = await ControlServer.start(sup, config.supervisor.runtime_dir, log, () => stop('drover stop'));
  // The supervisor reads the queue's depth for the autoscaler and removes expired results; it
  // never claims or runs a task.
  const store = await openStore({ ...config.store, stateDir: config.supervisor.state_dir });
  const cleanup = setInterval(() => {
    store.cleanup().then((r) => (r.tasks || r.sessions) && log.info(r, 'expired tasks and sessions removed'), (err: unknown) => log.error({ err }, 'store cleanup failed'));
  }, config.store.cleanup_interval * 1000);
  cleanup.unref();
  let admin: Awaited<ReturnType<typeof startAdmin>> | undefined;
  let agent: Awaited<ReturnType<typeof startFleetAgent>>;
  try {
    admin = await startAdmin(sup, metrics, config.admin, log);
    // Up before the children: HAProxy hears `down #no ready child` until the first is ready.
    agent = await startFleetAgent(sup, () => stopping, log);
    await sup.start();
  } catch (err) {
    await stop('start failed', EXIT.failure);
    admin?.close();
    await agent?.close();
    await control.close();
    await store.close();
    throw err;
  }
  const autoscaler = startAutoscaler(sup, store, sizing, log);
  const code = await done;
  autoscaler?.stop();
  clearInterval(cleanup);
  admin?.close();
  await agent?.close();
  await control.close();
  await store.close();
  return code;
}

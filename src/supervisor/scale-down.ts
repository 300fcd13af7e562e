// How children go when there are more than desired: the cheapest to lose first (the victim
// pick, autoscaler/victim.ts, reads their last load reports), each drained, never killed
// mid-request: its requests and tasks get autoscale.drain_timeout, and tasks still running
// then go back to the queue.
import { pickVictim } from '../autoscaler/index.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { ChildHandle } from './child.ts';

/** Drains `excess` of the `live` children. */
export function drainExtras(live: readonly ChildHandle[], excess: number, config: Config, log: Logger): void {
  const now = Date.now();
  const candidates = live.map((c) => ({
    id: c,
    runningTasks: c.report?.runningTasks ?? 0,
    inflightRequests: c.report?.inflight ?? 0,
    connections: c.report?.connections ?? 0,
    ageS: (now - c.startedAt) / 1000,
    draining: false,
  }));
  for (let n = excess; n > 0; n--) {
    const pick = pickVictim(candidates.filter((x) => x.id.state !== 'draining'));
    if (!pick) break;
    const v = pick.id;
    log.info({ child: v.id, childPid: v.pid, why: pick.why }, 'scale down: draining a child');
    v.drain(config.autoscale.drain_timeout * 1000, config.supervisor.kill_timeout * 1000, 'scale-down');
  }
}

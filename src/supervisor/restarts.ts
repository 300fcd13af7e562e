// The restart policy (restart-policy.ts) as the supervisor runs it: its state between events,
// the config it reads, and what its actions mean here besides forking — the counters, the log
// lines, and the give-up that stops drover when no child can start.
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { ChildHandle } from './child.ts';
import type { SupervisorCounters } from './counters.ts';
import { decideRestart, INITIAL_RESTART_STATE, type RestartAction, type RestartEvent, type RestartState } from './restart-policy.ts';

export class Restarts {
  /** Per-slot crash backoff and the boot-failure breaker. */
  private state: RestartState = INITIAL_RESTART_STATE;

  private readonly config: () => Config['supervisor'];
  private readonly log: Logger;
  private readonly counters: SupervisorCounters;

  /** `config`: the running supervisor section (a reload may replace it). */
  constructor(config: () => Config['supervisor'], log: Logger, counters: SupervisorCounters) {
    this.config = config;
    this.log = log;
    this.counters = counters;
  }

  /** A child became ready: the code boots. */
  ready(): void {
    this.decide({ type: 'ready' });
  }

  /** Which of the `missing` slots to fork now, and when to look again for the others. */
  due(missing: readonly number[], live: number): RestartAction[] {
    return this.decide({ type: 'due', missing, live });
  }

  /**
   * A child exited unplanned, with `ready` children still serving: counts and logs it.
   * Returns why drover gives up, when no child can start.
   */
  exited(child: ChildHandle, ready: number): string | undefined {
    if (child.readyAt === undefined) {
      this.counters.restarted(child.drainReason === 'ready_timeout' ? 'ready_timeout' : 'boot_failure', child.slot);
      let fatal: string | undefined;
      for (const a of this.decide({ type: 'boot-failed', slot: child.slot, ready })) {
        const tail = child.stderr.slice(-10);
        if (a.type === 'give-up') {
          fatal = `no child could start (${a.bootFailures} attempts); last child stderr:\n${tail.join('\n')}`;
          this.log.fatal({ attempts: a.bootFailures, stderr: tail }, 'no child can start');
        } else if (a.type === 'retry-slowly') {
          this.log.error({ attempts: a.bootFailures, slot: a.slot, restartInS: a.delayS, stderr: tail }, 'children keep failing to start; retrying slowly while the others serve');
        }
      }
      return fatal;
    }
    this.counters.restarted('crash', child.slot);
    for (const a of this.decide({ type: 'crashed', slot: child.slot, upS: (Date.now() - child.readyAt) / 1000 })) {
      if (a.type === 'backoff') this.log.warn({ child: child.id, slot: a.slot, crashes: a.failures, restartInS: a.delayS }, 'child crashed; restarting');
    }
    return undefined;
  }

  private decide(event: RestartEvent): RestartAction[] {
    const sup = this.config();
    const cfg = { initialS: sup.restart_delay, maxS: sup.restart_delay_max, healthyAfterS: sup.healthy_after, maxBootFailures: sup.max_boot_failures };
    const r = decideRestart(this.state, event, Date.now(), cfg);
    this.state = r.state;
    return r.actions;
  }
}

// The health checks (health.ts) as the supervisor runs them once a second: every child's last
// known state goes in, and each action that comes out is done here — terminate a child that
// never became ready or stopped heartbeating, kill one over the hard memory limit, replace one
// over max_rss_mb gracefully. Forking what is missing afterwards is the supervisor's loop.
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { ChildHandle } from './child.ts';
import type { Children } from './children.ts';
import type { SupervisorCounters } from './counters.ts';
import { checkHealth, type HealthAction } from './health.ts';

/** What the watch asks of the supervisor. */
export interface HealthHands {
  /** Fork what is missing (after a child was terminated). */
  maintain(): void;
  /** Replace `child` gracefully: a new one first, then it drains. */
  replace(child: ChildHandle): Promise<unknown>;
}

export class HealthWatch {
  /** Children over max_rss_mb whose replacement is under way. */
  private readonly replacingForMemory = new Set<ChildHandle>();
  private readonly children: Children;
  private readonly config: () => Config['supervisor'];
  private readonly log: Logger;
  private readonly counters: SupervisorCounters;
  private readonly hands: HealthHands;

  constructor(children: Children, config: () => Config['supervisor'], log: Logger, counters: SupervisorCounters, hands: HealthHands) {
    this.children = children;
    this.config = config;
    this.log = log;
    this.counters = counters;
    this.hands = hands;
  }

  /** Checks every child and does what the checks return. */
  check(): void {
    const watched = [...this.children.values()].map((c) => ({
      id: c.id, state: c.state, startedAt: c.startedAt, lastSeen: c.lastSeen, rss: c.report?.rss ?? 0,
      isReplacement: c.isReplacement, replacingForMemory: this.replacingForMemory.has(c),
    }));
    const byId = new Map([...this.children.values()].map((c) => [c.id, c]));
    for (const a of checkHealth(watched, Date.now(), this.config())) this.apply(byId.get(a.id)!, a);
  }

  private apply(c: ChildHandle, a: HealthAction): void {
    const killMs = this.config().kill_timeout * 1000;
    switch (a.type) {
      case 'ready-timeout':
        this.log.warn({ child: c.id, childPid: c.pid }, 'child not ready in time; replacing');
        c.terminate(killMs, 'ready_timeout');
        return;
      case 'hung':
        this.log.warn({ child: c.id, childPid: c.pid, silentS: a.silentS }, 'child hung; replacing');
        this.counters.restarted('hang', c.slot);
        c.terminate(killMs, 'hang');
        this.hands.maintain();
        return;
      case 'memory-kill':
        // A leak outruns a graceful drain: kill now; the tasks' leases bring them back.
        this.log.error({ child: c.id, childPid: c.pid, rss: a.rss, hardLimitMb: a.hardLimitMb }, 'child over hard memory limit; killing it');
        if (a.counted) this.counters.restarted('memory', c.slot);
        c.terminate(0, 'memory');
        this.hands.maintain();
        return;
      case 'memory-replace':
        this.log.warn({ child: c.id, childPid: c.pid, rss: a.rss, limitMb: this.config().max_rss_mb }, 'child over memory limit; replacing');
        this.replacingForMemory.add(c);
        this.counters.restarted('memory', c.slot);
        void this.hands.replace(c).finally(() => this.replacingForMemory.delete(c));
        return;
    }
  }
}

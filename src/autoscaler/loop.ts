import type { Logger } from '../log.ts';
import { decide } from './decide.ts';
import type { Policy } from './policy.ts';
import { emptyHistory, type Decision, type History, type Signals } from './types.ts';

/** What the loop needs from the supervisor: it measures and applies; it never forks or kills itself. */
export interface AutoscaleHost {
  /** This tick's measurements, or undefined when there is nothing to decide on (starting, stopping). */
  signals(): Promise<Signals | undefined>;
  /** Whether decisions are suspended (`drover scale N`, drain, reload). */
  paused(): boolean;
  /** Sets the number of children. */
  apply(desired: number, decision: Decision): void;
}

export interface DecisionRecord {
  at: string;
  current: number;
  desired: number;
  direction: Decision['direction'];
  metric: Decision['metric'];
  reason: string;
}

const KEEP_DECISIONS = 10;

/** Calls decide() every `policy.interval` seconds and applies what changes the count. */
export class AutoscaleLoop {
  readonly policy: Policy;
  private history: History = emptyHistory();
  private timer?: NodeJS.Timeout;
  private running = false;
  readonly decisions: DecisionRecord[] = [];
  desired?: number;
  /** The last tick's measurements, for `drover status`. */
  lastSignals?: Signals;
  private readonly host: AutoscaleHost;
  private readonly log: Logger;
  private readonly onDecision: (d: Decision) => void;

  constructor(policy: Policy, host: AutoscaleHost, log: Logger, onDecision: (d: Decision) => void = () => {}) {
    this.policy = policy;
    this.host = host;
    this.log = log;
    this.onDecision = onDecision;
  }

  /**
   * Treats `count` as recommended now, so a scale-down waits a whole scale_down_window after
   * start (or after `drover scale auto`) instead of following the first idle tick.
   */
  seed(count: number, now = Date.now()): void {
    this.history = { recommendations: [...this.history.recommendations, { at: now, desired: count }], scaleEvents: this.history.scaleEvents };
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.policy.interval * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One decision; exposed so the loop can be driven step by step. */
  async tick(now = Date.now()): Promise<Decision | undefined> {
    if (this.running || this.host.paused()) return undefined;
    this.running = true;
    try {
      const signals = await this.host.signals();
      if (!signals || this.host.paused()) return undefined;
      this.lastSignals = signals;
      const { decision, history } = decide(this.history, signals, this.policy, now);
      this.history = history;
      this.desired = decision.desired;
      this.onDecision(decision);
      if (decision.direction !== 'none') {
        this.record(decision, now);
        this.log.info({ from: decision.current, desired: decision.desired, metric: decision.metric, reason: decision.reason, signals }, 'autoscale decision');
        this.host.apply(decision.desired, decision);
      }
      return decision;
    } catch (err) {
      this.log.error({ err }, 'autoscale tick failed');
      return undefined;
    } finally {
      this.running = false;
    }
  }

  private record(d: Decision, now: number): void {
    this.decisions.push({ at: new Date(now).toISOString(), current: d.current, desired: d.desired, direction: d.direction, metric: d.metric, reason: d.reason });
    this.decisions.splice(0, Math.max(0, this.decisions.length - KEEP_DECISIONS));
  }
}

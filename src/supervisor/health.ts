// The health checks the supervisor runs once a second on every child: did it become ready in
// time, does it still heartbeat, does its memory stay under the limits. Pure: the children's
// last known state and the clock come in, the actions to take go out; the supervisor applies
// them (gunicorn's murder_workers, as data).
//
// Memory: above max_rss_mb a ready child is replaced gracefully (a new one starts, the old one
// drains). A leak keeps growing while the old child drains, so above the hard limit the child
// is killed at once, draining or not: its tasks go back to the queue when their leases run out.

export interface MemoryLimits {
  max_rss_mb: number;
  max_rss_hard_mb: number | 'auto';
}

export interface HealthLimits extends MemoryLimits {
  /** Seconds a child may take from fork to ready. */
  ready_timeout: number;
  /** Seconds without a message after which a ready child counts as hung. */
  hang_timeout: number;
}

/** How often the supervisor runs the checks. */
export const HEALTH_CHECK_MS = 1000;

/** How far above max_rss_mb the hard limit lies when it is `auto`. */
export const HARD_LIMIT_FACTOR = 1.5;

/** The hard limit in MiB; 0 = none. */
export function rssHardLimitMb(limits: MemoryLimits): number {
  if (limits.max_rss_hard_mb !== 'auto') return limits.max_rss_hard_mb;
  return Math.floor(limits.max_rss_mb * HARD_LIMIT_FACTOR);
}

export type MemoryVerdict = 'kill' | 'replace' | 'ok';

export function memoryVerdict(rssBytes: number, state: 'ready' | 'draining', replacing: boolean, limits: MemoryLimits): MemoryVerdict {
  const hard = rssHardLimitMb(limits);
  if (hard > 0 && rssBytes > hard * 2 ** 20) return 'kill';
  if (state === 'ready' && !replacing && limits.max_rss_mb > 0 && rssBytes > limits.max_rss_mb * 2 ** 20) return 'replace';
  return 'ok';
}

/** A child as the health checks see it. */
export interface WatchedChild {
  readonly id: number;
  readonly state: 'starting' | 'ready' | 'draining' | 'exited';
  /** Epoch ms of the fork. */
  readonly startedAt: number;
  /** Epoch ms of its last message. */
  readonly lastSeen: number;
  /** Resident memory in bytes, as last reported (0 before any report). */
  readonly rss: number;
  /** Forked to replace another child: a reload or memory replacement waits for it with its own timeout. */
  readonly isReplacement: boolean;
  /** A replacement for memory is already under way. */
  readonly replacingForMemory: boolean;
}

export type HealthAction =
  /** Not ready within ready_timeout: terminate it; its exit counts as a ready_timeout restart. */
  | { readonly type: 'ready-timeout'; readonly id: number }
  /** No message for hang_timeout: terminate it and start another. */
  | { readonly type: 'hung'; readonly id: number; readonly silentS: number }
  /** Over the hard memory limit: kill it now. `counted`: a ready child's restart is counted (a draining one's was already). */
  | { readonly type: 'memory-kill'; readonly id: number; readonly rss: number; readonly hardLimitMb: number; readonly counted: boolean }
  /** Over max_rss_mb: start a replacement, then drain it. */
  | { readonly type: 'memory-replace'; readonly id: number; readonly rss: number };

export function checkHealth(children: Iterable<WatchedChild>, now: number, limits: HealthLimits): HealthAction[] {
  const actions: HealthAction[] = [];
  for (const c of children) {
    if (c.state === 'starting' && now - c.startedAt > limits.ready_timeout * 1000 && !c.isReplacement) {
      actions.push({ type: 'ready-timeout', id: c.id });
    } else if (c.state === 'ready' && now - c.lastSeen > limits.hang_timeout * 1000) {
      actions.push({ type: 'hung', id: c.id, silentS: Math.round((now - c.lastSeen) / 1000) });
    } else if (c.state === 'ready' || c.state === 'draining') {
      const verdict = memoryVerdict(c.rss, c.state, c.replacingForMemory, limits);
      if (verdict === 'kill') actions.push({ type: 'memory-kill', id: c.id, rss: c.rss, hardLimitMb: rssHardLimitMb(limits), counted: c.state === 'ready' });
      else if (verdict === 'replace') actions.push({ type: 'memory-replace', id: c.id, rss: c.rss });
    }
  }
  return actions;
}

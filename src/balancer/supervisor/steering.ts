// Steering: the accept limit the supervisor sends to children that accept from the shared
// socket themselves (the child side is balancer/child/direct-accept.ts). Pure: the loads come
// in, the limit goes out; the supervisor sends it.
import { NO_LIMIT } from '../../ipc/messages.ts';

/**
 * Load above the least-loaded child that a child may reach before it stops accepting. Limits
 * move only by at least this much: every IPC message costs the busy child measurable time.
 * Tighter steering evens out connection counts but takes the kernel's choice away when it
 * matters most: a child that holds more idle long requests is shut out while the other, busy
 * on the CPU, takes every new connection. With 10% or 25% the light-request p99 under 10% held
 * connections reached 2-3× round robin's; with 50% it is close to it, and the spread of held
 * connections stays within a few percent (bench/RESULTS.md).
 */
export const SPREAD_SLACK_MIN = 4;
export const SPREAD_SLACK_SHARE = 0.5;

/** A child as steering sees it: its state and its load (Target.load()). */
export interface SteeredChild {
  readonly state: 'starting' | 'ready' | 'draining' | 'exited';
  readonly load: number;
}

export interface Steering {
  /** Load at which a child stops accepting; NO_LIMIT when the kernel's choice stands. */
  readonly limit: number;
  /** Smallest change of the limit worth a message. */
  readonly slack: number;
  /** More than one child accepts (or soon will): a child alone has no one to yield to. */
  readonly spread: boolean;
}

/**
 * Least load across children that accept directly. While their loads are within a slack of
 * each other the kernel's choice stands (whichever child accepts first: a busy event loop
 * takes none) and there is no limit (a child still stops at child_target requests being
 * answered). When one pulls ahead, every child may take connections only up to the lowest
 * load plus the slack, so the busier ones stop accepting.
 */
export function acceptLimit(children: Iterable<SteeredChild>): Steering {
  let floor = Infinity;
  let top = 0;
  let ready = 0;
  let starting = 0;
  for (const c of children) {
    if (c.state === 'starting') starting++;
    if (c.state !== 'ready') continue;
    ready++;
    floor = Math.min(floor, c.load);
    top = Math.max(top, c.load);
  }
  // A child still starting will accept soon: it counts for the spread.
  const spread = ready + starting > 1;
  if (floor === Infinity) return { limit: NO_LIMIT, slack: SPREAD_SLACK_MIN, spread };
  const slack = Math.max(SPREAD_SLACK_MIN, Math.ceil(floor * SPREAD_SLACK_SHARE));
  return { limit: top - floor <= slack ? NO_LIMIT : floor + slack, slack, spread };
}

/**
 * Whether a child that was last sent `last` needs `next`: the limit moved by the slack or
 * more, was lifted or set, or the spread flag changed. Nothing sent yet counts as NO_LIMIT.
 */
export function limitNeedsSending(last: { limit?: number; spread?: boolean }, next: Steering): boolean {
  if (next.spread !== last.spread) return true;
  const was = last.limit ?? NO_LIMIT;
  if (next.limit === was) return false;
  if (next.limit === NO_LIMIT || was === NO_LIMIT) return true;
  return Math.abs(next.limit - was) >= next.slack;
}

// Every message between the supervisor and a child, in one place, so the whole protocol can
// be read at a glance. Each carries one discriminating field, `t`. Handles travel only with
// `conn`, `listen`, `back`, `idle` and `lent`. prom-client's own metrics messages share the channel; isChildMessage() tells ours apart.

export type IdleOnDrain = 'return' | 'expire' | 'close';

/** The accept limit while children's loads are close: no limit (JSON has no Infinity). */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** What a child reports about itself, on every heartbeat and whenever it frees a full slot. */
export interface LoadReport {
  /**
   * Connections handed to this child so far; the supervisor compares it with what it sent. One
   * that brought the start of a request (`conn` with `head`) counts once the child's event loop
   * has turned after that request started.
   */
  received: number;
  /** Open connections. */
  connections: number;
  /** HTTP requests being served. */
  inflight: number;
  /** Of those, answers that are event streams under way: they wait on the network and leave the child free. */
  streams?: number;
  /** Agent tasks running in the executor pool. */
  runningTasks: number;
  /** Task slots of the executor pool (threads × tasks per thread). */
  taskSlots: number;
  /** Requests finished since the child started. */
  requests: number;
  /** True while this child accepts from the shared socket. */
  listening?: boolean;
  /** Resident set size in bytes. */
  rss: number;
  /** Event-loop delay p99 over the last interval, in seconds. */
  eventLoopLag: number;
  /** HTTP request duration p95 over the last interval, in seconds (undefined with no requests). */
  httpP95?: number;
  /** Queue wait p95 of the tasks this child claimed over the last interval, in seconds (0 when none). */
  queueWaitP95?: number;
  /** True once the child stopped claiming tasks and is finishing what it has. */
  draining: boolean;
}

export type ChildMessage =
  | { t: 'ready' }
  | ({ t: 'load' } & LoadReport)
  /** The child cannot start (bad agent module, bad config): the reason, before it exits. */
  | { t: 'boot-failed'; message: string }
  /** Asks for the shared listening socket: at boot, and when the load is back under the limit. */
  | { t: 'want-listen' }
  /** A connection this child accepted and will not serve (at its limit, or stopping): the raw handle travels. */
  | { t: 'back' }
  /**
   * A keep-alive connection idle between requests (the raw handle travels): the supervisor waits
   * for its next request and gives it to a free child, quick routes first.
   */
  | { t: 'idle' }
  /** Answer to `unlisten`: this child no longer accepts from the shared socket. */
  | { t: 'unlistened' }
  /** Answer to `lend`: a copy of the listening socket travels as the handle (none if this child has none). */
  | { t: 'lent' }
  /** Answer to `metrics`: the child's registry as prom-client JSON (getMetricsAsJSON). */
  | { t: 'metrics'; id: number; metrics: unknown[] };

export type SupervisorMessage =
  /**
   * A connection: the socket travels as the handle. `head` (base64) is what the supervisor read
   * from it before handing it over: the start of the next request on a connection that was idle.
   */
  | { t: 'conn'; head?: string }
  /**
   * Answer to `want-listen`: the shared listening socket travels as the handle, or none while
   * the supervisor accepts every connection itself. The child accepts while its load < limit
   * (NO_LIMIT while loads are close) and its requests being answered < balancer.child_target;
   * `spread` says other children accept too (so it caps how fast its load may grow between reports).
   */
  | { t: 'listen'; limit: number; spread: boolean }
  /** A new limit (the supervisor steering connections toward less-loaded children). */
  | { t: 'limit'; limit: number; spread: boolean }
  /** Stop accepting from the shared socket now, and say so (the supervisor is stopping). */
  | { t: 'unlisten' }
  /** Send a copy of your listening socket (the supervisor keeps it and stops accepting itself). */
  | { t: 'lend' }
  /**
   * Take no new work, finish in-flight requests and tasks by the deadline, then exit 0.
   * `idle` says what becomes of keep-alive connections idle between requests: `return` them to
   * the supervisor, which gives their next request to another child (reload, scale-down,
   * replacement: the node keeps serving); `expire` them at the keep-alive timeout (the whole
   * node drains); `close` them now (drover stops).
   */
  | { t: 'drain'; deadlineMs: number; reason: string; idle: IdleOnDrain }
  /** Send your metrics (a scrape of /metrics on the admin port). */
  | { t: 'metrics'; id: number };

export function isChildMessage(m: unknown): m is ChildMessage {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}

export function isSupervisorMessage(m: unknown): m is SupervisorMessage {
  return isChildMessage(m);
}

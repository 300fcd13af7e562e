// The autoscaler's inputs and outputs as plain data. The decision is a pure function of
// (history, signals, policy, now); the loop around it owns the clock and applies the result.

/** What the supervisor measured for one tick. An optional metric may be missing (undefined). */
export interface Signals {
  /** Children that are ready and not draining. */
  children: number;
  /** Children forked but not yet ready: they count toward the current size. */
  starting: number;
  /** Task slots of one child's executor pool (threads × tasks per thread). */
  slotsPerChild: number;
  /** Agent tasks running on this node. */
  runningTasks: number;
  /** Tasks waiting in the queue for a slot. */
  queueDepth: number;
  /** Seconds the oldest queued task has waited (0 with an empty queue). */
  oldestWaitS: number;
  /** p95 queue wait of tasks claimed over the last interval (0 when nothing waited). */
  queueWaitP95S?: number;
  /** p95 HTTP request duration over the last interval (0 when there were no requests). */
  httpP95S?: number;
  /** Event-loop delay (p99, worst child) over the last interval. */
  eventLoopLagS?: number;
  /** Memory the machine (or cgroup) can still give out. */
  freeMemoryMb?: number;
  /** The other nodes sharing this node's queue (fleet mode): the metrics size the fleet and this node takes its share. */
  fleet?: FleetView;
}

/** The metrics that each recommend a child count. */
export type SignalMetric = 'slots' | 'queue' | 'queue_wait' | 'http_p95' | 'event_loop_lag';

/** What decided the outcome: a metric, a bound, or a brake. */
export type DecisionMetric =
  | SignalMetric
  | 'min'
  | 'max'
  | 'memory_guard'
  | 'stabilised'
  | 'rate_limited'
  | 'missing_metrics'
  | 'within_tolerance';

export type Direction = 'up' | 'down' | 'none';

export interface Decision {
  /** Children wanted after this tick (ready + starting). */
  desired: number;
  /** Children counted now (ready + starting). */
  current: number;
  direction: Direction;
  /** Which metric drove it and why, with the numbers, for logs and `drover status`. */
  reason: string;
  metric: DecisionMetric;
  /** Each computed metric's own desired count (metrics that were ignored or missing are absent). */
  recommendations: Partial<Record<SignalMetric, number>>;
}

/** One tick's recommendation before stabilisation, kept for the stabilisation windows. */
export interface Recommendation {
  at: number;
  desired: number;
}

/** A change of the child count this autoscaler asked for, kept for the rate policies. */
export interface ScaleEvent {
  at: number;
  /** Children added (positive) or removed (negative). */
  change: number;
}

/** Everything decide() remembers between ticks; times are milliseconds on the caller's clock. */
export interface History {
  readonly recommendations: readonly Recommendation[];
  readonly scaleEvents: readonly ScaleEvent[];
}

export function emptyHistory(): History {
  return { recommendations: [], scaleEvents: [] };
}

/** What pickVictim needs to know about a child. */
export interface VictimCandidate<Id> {
  id: Id;
  runningTasks: number;
  inflightRequests: number;
  connections: number;
  ageS: number;
  draining: boolean;
}

export interface Victim<Id> {
  id: Id;
  /** Which rule chose it, with the number that decided, e.g. "fewest running tasks (0)". */
  why: string;
}

/** Another live node sharing this node's queue, as the fleet registry says. */
export interface FleetPeer {
  id: string;
  /** Its ready children. */
  children: number;
  /** Agent tasks running on it. */
  running: number;
  maxChildren: number;
  draining: boolean;
}

export interface FleetView {
  /** This node's registry id. */
  self: string;
  /** The most children this node may run. */
  selfMax: number;
  /** The other live nodes (this one excluded). */
  peers: FleetPeer[];
}

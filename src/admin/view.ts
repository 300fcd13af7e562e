// What the status page and `drover top` show, as plain JSON: the status snapshot plus what
// the monitor measured over time. One shape for both, built in one place (monitor.ts).
import type { Status } from '../supervisor/status.ts';
import type { TenantRow } from './tenants.ts';
import type { RegisteredNode } from '../fleet/registry.ts';

/** One second of the node, for the charts and sparklines. */
export interface Sample {
  at: number;
  desired: number;
  /** Children ready. */
  actual: number;
  connections: number;
  inflight: number;
  runningTasks: number;
  taskSlots: number;
  /** Tasks queued in the store (undefined when the store did not answer). */
  queued?: number;
  /** Connections waiting in the supervisor for a child with room. */
  waiting: number;
  reqPerS: number;
  /** Worst child's HTTP p95 over its last heartbeat, seconds. */
  httpP95S?: number;
  /** Connections refused or timed out in the supervisor during this second. */
  refused: number;
  /** Tasks that succeeded / were dead-lettered during this second. */
  succeeded?: number;
  failed?: number;
}

/** A change of the desired child count, marked on the autoscaler chart. */
export interface DecisionMark {
  at: number;
  from: number;
  to: number;
  /** The autoscaler's metric, or `manual`. */
  metric: string;
  reason: string;
}

export interface Traffic {
  /** Seconds covered by the quantiles and classes below (the last scrape window). */
  windowS: number;
  reqPerS: number;
  p50S?: number;
  p95S?: number;
  /** Responses by status class in the window ("2xx": n, …). */
  byClass: Record<string, number>;
  waiting: number;
  refusedTotal: number;
  timedOutTotal: number;
}

export interface DeadLetter {
  id: string;
  tenant: string;
  at: number;
  attempts: number;
  error: string;
}

export interface Tasks {
  /** False when the store could not be read (the rest is then empty). */
  available: boolean;
  queued: number;
  /** Queued tasks waiting for their retry time. */
  retrying: number;
  byPriority: Record<string, number>;
  oldestWaitS: number;
  running: number;
  dead: number;
  /** Over the last minute; undefined when the store does not count them. */
  succeededPerMin?: number;
  failedPerMin?: number;
  deadLetters: DeadLetter[];
  /** The busiest tenants by backlog, then tenants only rate limited (tenants.ts). */
  tenants: TenantRow[];
}

export interface Executor {
  threadsPerChild: number;
  tasksPerThread: number;
  slotsPerChild: number;
  slotsInUse: number;
  slotsTotal: number;
  limitedBy: string;
  /** The sizing arithmetic, as `drover check-config` prints it. */
  explanation: string[];
}

export interface View {
  at: number;
  status: Status;
  traffic: Traffic;
  tasks: Tasks;
  executor: Executor;
  /** Changes of the desired count over the history window, oldest first. */
  decisions: DecisionMark[];
  /** Oldest first; on the page's event stream, only those the page has not seen. */
  samples: Sample[];
  /** Seconds of history the monitor keeps. */
  historyS: number;
  /** The fleet registry's live nodes as of the last heartbeat, when there is more than this one; else null. */
  fleet: RegisteredNode[] | null;
}

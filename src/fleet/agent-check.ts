// What a node tells HAProxy's agent-check (haproxy_sea.md §1.2): one line per connection.
// Words are independent: health (up/down), admin state (ready/drain) and weight (NN%); the
// last word of each kind wins and `#` starts a logged note, which needs a space before it.

export interface NodeState {
  /** `drover stop` (or a signal) is under way: the node closes its listener. */
  stopping: boolean;
  /** `drover drain`: the node takes no new work until reload or scale. */
  draining: boolean;
  /** The shared store answers (always true for the embedded SQLite store). */
  storeReachable: boolean;
  readyChildren: number;
  /** Task slots and running tasks summed over the ready children's reports. */
  taskSlots: number;
  runningTasks: number;
  /** Concurrent requests this node offers all HAProxies together (0 = say nothing). */
  maxconn: number;
  /** HAProxies checking this node: each gets its share of maxconn (HAProxy docs, §5.2 agent-check). */
  haproxies: number;
}

/**
 * The agent's reply line, `\n`-terminated (HAProxy ignores a line without one).
 * - stopping → `down #stopping`: the listener is closing, no new connection should come.
 * - draining → `drain`: HAProxy stops new connections, those in flight finish.
 * - no ready child or store unreachable → `down #reason`.
 * - else `up ready NN%` with NN the share of free task slots, at least 1 (0% would mean
 *   drain), and `maxconn:N` when a maxconn is set.
 */
export function agentReply(s: NodeState): string {
  if (s.stopping) return 'down #stopping\n';
  if (s.draining) return 'drain #draining\n';
  if (!s.storeReachable) return 'down #store unreachable\n';
  if (s.readyChildren === 0) return 'down #no ready child\n';
  const words = ['up', 'ready', `${freePercent(s.taskSlots, s.runningTasks)}%`];
  if (s.maxconn > 0) words.push(`maxconn:${Math.max(1, Math.floor(s.maxconn / Math.max(1, s.haproxies)))}`);
  return `${words.join(' ')}\n`;
}

/** Free task slots as a weight of 1..100; children that have not reported slots yet count as free. */
export function freePercent(taskSlots: number, runningTasks: number): number {
  if (taskSlots <= 0) return 100;
  const free = Math.max(0, taskSlots - runningTasks) / taskSlots;
  return Math.min(100, Math.max(1, Math.round(free * 100)));
}

/** `[fleet] agent_maxconn` as a number: `auto` is what the ready children accept together. */
export function nodeMaxconn(setting: number | 'auto', readyChildren: number, childTarget: number): number {
  return setting === 'auto' ? readyChildren * childTarget : setting;
}

// How many children, threads and concurrent tasks, from the machine and the workload the
// config describes (research/haproxy_sea.md §4.3). Agent tasks mostly wait on LLM calls, so
// threads only need to cover the CPU part (λ·C / U) and concurrency inside a thread covers the
// waiting part (Little's law: in flight = λ·W). Every number is an `auto` that an explicit
// config value replaces, and each comes with the arithmetic that produced it, because an
// operator who is told "256" needs to see why before trusting it.
import type { Config } from './schema.ts';
import type { Machine } from './machine.ts';

export { cpuShare, memoryLimit, readMachine, type Machine, type Probe, type CpuShare, type MemoryLimit } from './machine.ts';

/** Share of the memory limit that in-flight tasks may use; the rest is Node, code and caches. */
export const TASK_MEMORY_SHARE = 0.5;

export interface Sizing {
  readonly cpuShare: number;
  readonly memoryLimitMb: number;
  /** Children at start; the autoscaler moves between minChildren and maxChildren. */
  readonly children: number;
  readonly minChildren: number;
  readonly maxChildren: number;
  readonly threads: number;
  readonly tasksPerThread: number;
  /** threads × tasksPerThread: tasks one child runs at once. */
  readonly slotsPerChild: number;
  readonly memoryBudgetMb: number;
  /** What set tasksPerThread: the arrival rate (Little's law), a cap, or the config. */
  readonly limitedBy: 'arrival rate' | 'memory' | 'providers' | 'config';
  /** The arithmetic, one step per line, in the order it was done. */
  readonly explanation: readonly string[];
  /** Settings that work against each other; drover still runs with them. */
  readonly warnings: readonly string[];
}

const MAX_CHILDREN = 256;

export function computeSizing(config: Config, machine: Machine): Sizing {
  const { supervisor, autoscale, executor: x } = config;
  const lines: string[] = [];
  const warnings: string[] = [];
  const share = machine.cpu.cpus;
  const memoryLimitMb = Math.floor(machine.memory.bytes / 2 ** 20);
  lines.push(`CPU share = ${n(share)} (${machine.cpu.source})`);
  lines.push(`memory limit = ${memoryLimitMb} MB (${machine.memory.source})`);

  const minChildren = autoscale.min_children;
  let maxChildren: number;
  if (autoscale.max_children !== 'auto') {
    maxChildren = autoscale.max_children;
    lines.push(`max_children = ${maxChildren} (set in autoscale.max_children)`);
  } else {
    const twice = Math.ceil(2 * share);
    maxChildren = Math.min(MAX_CHILDREN, Math.max(twice, minChildren));
    lines.push(`max_children = ceil(2 × CPU share ${n(share)}) = ${twice}${maxChildren === twice ? '' : `, raised to min_children ${maxChildren}`}`);
  }

  let children: number;
  if (supervisor.children !== 'auto') {
    children = supervisor.children;
    lines.push(`children = ${children} (set in supervisor.children)`);
    if (autoscale.enabled && (children < minChildren || children > maxChildren)) {
      warnings.push(`supervisor.children ${children} is outside the autoscale range ${minChildren}..${maxChildren}; the autoscaler will move it there`);
    }
  } else {
    const wanted = Math.max(1, Math.ceil(share));
    children = autoscale.enabled ? Math.min(Math.max(wanted, minChildren), maxChildren) : Math.min(wanted, MAX_CHILDREN);
    lines.push(`children = ceil(CPU share ${n(share)}) = ${wanted}${children === wanted ? '' : `, kept within autoscale ${minChildren}..${maxChildren} = ${children}`}`);
  }

  const rate = x.expected_arrival_rate;
  const lambda = rate / children;
  lines.push(`λ per child = expected_arrival_rate ${n(rate)}/s ÷ ${plural(children, 'child', 'children')} = ${n(lambda)}/s`);

  let threads: number;
  if (x.threads !== 'auto') {
    threads = x.threads;
    lines.push(`threads = ${threads} (set in executor.threads)`);
  } else {
    const cpuSeconds = x.cpu_ms_per_task / 1000;
    const demand = (lambda * cpuSeconds) / x.target_cpu_utilization;
    const cpuPerChild = Math.max(1, Math.floor(share / children));
    threads = Math.min(Math.max(1, Math.ceil(demand)), cpuPerChild);
    lines.push(
      `threads = ceil(λ ${n(lambda)}/s × CPU ${n(cpuSeconds)} s per task ÷ target ${n(x.target_cpu_utilization)}) = ceil(${n(demand)})` +
        `, within 1..${cpuPerChild} (CPU share per child) = ${threads}`,
    );
  }

  let memoryBudgetMb: number;
  if (x.memory_budget_mb !== 'auto') {
    memoryBudgetMb = x.memory_budget_mb;
    lines.push(`memory budget = ${memoryBudgetMb} MB per child (set in executor.memory_budget_mb)`);
  } else {
    // The autoscaler may run up to max_children at once, each with the same slots.
    const sharers = autoscale.enabled ? maxChildren : children;
    memoryBudgetMb = Math.max(16, Math.floor((TASK_MEMORY_SHARE * memoryLimitMb) / sharers));
    const who = autoscale.enabled ? `max_children ${sharers}` : plural(sharers, 'child', 'children');
    lines.push(`memory budget = ${TASK_MEMORY_SHARE * 100}% × ${memoryLimitMb} MB ÷ ${who} = ${memoryBudgetMb} MB per child`);
  }

  const providers = Object.entries(config.llm.providers);
  const providerSlots = providers.reduce((sum, [, p]) => sum + p.max_concurrency, 0);
  const memorySlots = Math.floor(memoryBudgetMb / x.memory_per_task_mb);

  let tasksPerThread: number;
  let limitedBy: Sizing['limitedBy'];
  if (x.tasks_per_thread !== 'auto') {
    tasksPerThread = x.tasks_per_thread;
    limitedBy = 'config';
    lines.push(`tasks_per_thread = ${tasksPerThread} (set in executor.tasks_per_thread)`);
  } else {
    const inFlight = lambda * x.expected_task_seconds * x.headroom;
    const little = Math.max(1, Math.ceil(inFlight / threads));
    lines.push(`Little's law: ceil(λ ${n(lambda)}/s × ${n(x.expected_task_seconds)} s × headroom ${n(x.headroom)} ÷ ${plural(threads, 'thread')}) = ${little} tasks per thread`);
    const memoryCap = Math.max(1, Math.floor(memorySlots / threads));
    lines.push(`memory cap: floor(${memoryBudgetMb} MB ÷ ${n(x.memory_per_task_mb)} MB per task ÷ ${plural(threads, 'thread')}) = ${memoryCap} tasks per thread`);
    const caps: [number, Sizing['limitedBy']][] = [[little, 'arrival rate'], [memoryCap, 'memory']];
    if (providers.length > 0) {
      const providerCap = Math.max(1, Math.floor(providerSlots / threads));
      const each = providers.map(([name, p]) => `${name} ${p.max_concurrency}`).join(' + ');
      lines.push(`provider cap: floor(max_concurrency ${each} ÷ ${plural(threads, 'thread')}) = ${providerCap} tasks per thread`);
      caps.push([providerCap, 'providers']);
    }
    [tasksPerThread, limitedBy] = caps.reduce((a, b) => (b[0] < a[0] ? b : a));
    lines.push(`tasks_per_thread = min(${caps.map(([v]) => v).join(', ')}) = ${tasksPerThread} (set by ${limitedBy})`);
  }

  const slotsPerChild = threads * tasksPerThread;
  const throughput = (slotsPerChild * children) / x.expected_task_seconds;
  lines.push(
    `slots per child = ${plural(threads, 'thread')} × ${tasksPerThread} = ${slotsPerChild}; × ${plural(children, 'child', 'children')} = ${slotsPerChild * children} tasks at once` +
      `, ≈ ${n(throughput)} tasks/s at ${n(x.expected_task_seconds)} s each`,
  );

  if (slotsPerChild > memorySlots) {
    warnings.push(`${slotsPerChild} slots × ${n(x.memory_per_task_mb)} MB per task exceed the memory budget of ${memoryBudgetMb} MB per child`);
  }
  if (providers.length > 0 && slotsPerChild > providerSlots) {
    warnings.push(`${slotsPerChild} slots per child exceed the providers' max_concurrency ${providerSlots}; tasks beyond it wait for a provider connection`);
  }
  // With autoscaling, only a shortfall at max_children is one the autoscaler cannot fix.
  const ceiling = autoscale.enabled ? maxChildren : children;
  const best = (slotsPerChild * ceiling) / x.expected_task_seconds;
  if (best < rate) {
    warnings.push(`at ${plural(ceiling, 'child', 'children')} this node completes ≈ ${n(best)} tasks/s, below expected_arrival_rate ${n(rate)}/s; the queue will grow`);
  }

  return { cpuShare: share, memoryLimitMb, children, minChildren, maxChildren, threads, tasksPerThread, slotsPerChild, memoryBudgetMb, limitedBy, explanation: lines, warnings };
}

/** What `drover check-config` prints: the result, then the arithmetic, then any warnings. */
export function explainSizing(sizing: Sizing): string[] {
  const s = sizing;
  return [
    `per child: ${plural(s.threads, 'thread')} × ${s.tasksPerThread} tasks per thread = ${s.slotsPerChild} concurrent tasks; ` +
      `${plural(s.children, 'child', 'children')} at start (autoscale ${s.minChildren}..${s.maxChildren})`,
    ...s.explanation.map((line) => `  ${line}`),
    ...s.warnings.map((w) => `warning: ${w}`),
  ];
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** Up to two decimals, no trailing zeros: 3.3333 → 3.33, 60 → 60. */
function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}

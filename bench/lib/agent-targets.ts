// Issue 20's targets for bench:agents, as one table: what the run measured, the target, and
// whether it was met. Only the rows whose part ran are printed.

export interface AgentMeasures {
  /** Part (a), the example agent: tasks in flight over the steady window, as sampled. */
  inflight?: { p50: number; min: number; target: number };
  /** Part (a): run time p50 (finished − claimed) against the mock LLM's answer time. */
  run?: { p50Ms: number; llmMs: number };
  /** Part (a): the worst child's event-loop delay p99, read once a second: median and max of those. */
  lag?: { medianMs: number; maxMs: number };
  /** Part (a): RSS of the children above idle per task in flight, steady. */
  rssKb?: number;
  /** Part (b): submit → done with a no-op agent, into the store, against BullMQ at concurrency
   * 32 on the same machine in the same run: medians over rounds (tasks/s). */
  intoStore?: { drover: number; bullmq: number };
  /** Part (b): submit → done over HTTP, 64 keep-alive connections: a Node client, and wrk. */
  http?: { node: number; wrk: number };
  /** Part (a), the example agent: CPU over the steady window, to say whether the machine can hold the target at all. */
  cpu?: CpuMeasure;
}

export interface CpuMeasure {
  /** drover's processes (supervisor, children, all their threads), µs per completed task. */
  usPerTask: number;
  /** Completions/s the in-flight target needs: in flight ÷ the LLM time (Little's law). */
  neededPerS: number;
  /** The mock LLM's and the bench's own CPU in the same window, in cores. */
  othersCores: number;
  /** Cores of the machine. */
  cores: number;
}

export const TARGETS = {
  runRatio: 1.1,
  lagMs: 50,
  rssKb: 60,
  httpPerS: 5000,
} as const;

export interface TargetRow {
  measure: string;
  now: string;
  target: string;
  met: boolean;
}

const n = (x: number) => Math.round(x).toLocaleString('en');

/** One row per target the measures cover, in the order. */
export function agentTargets(m: AgentMeasures): TargetRow[] {
  const rows: TargetRow[] = [];
  if (m.inflight) {
    // "Held": the median sample at the target, not only the ramp's high point.
    rows.push({
      measure: 'tasks in flight, steady (p50 / min)',
      now: `${n(m.inflight.p50)} / ${n(m.inflight.min)}`,
      target: `≥ ${n(m.inflight.target)} held (p50)`,
      met: m.inflight.p50 >= m.inflight.target,
    });
  }
  if (m.run) {
    const ratio = m.run.p50Ms / m.run.llmMs;
    rows.push({
      measure: `run time p50 for a ${m.run.llmMs / 1000} s LLM call`,
      now: `${n(m.run.p50Ms)} ms (${ratio.toFixed(2)}×)`,
      target: `≤ ${TARGETS.runRatio}× the LLM time`,
      met: ratio <= TARGETS.runRatio,
    });
  }
  if (m.lag) {
    // "Stays under": every one-second p99 of the window, so the max of them.
    rows.push({
      measure: 'child event-loop delay p99, worst child (median / max over the window)',
      now: `${n(m.lag.medianMs)} / ${n(m.lag.maxMs)} ms`,
      target: `< ${TARGETS.lagMs} ms throughout`,
      met: m.lag.maxMs < TARGETS.lagMs,
    });
  }
  if (m.rssKb !== undefined) {
    rows.push({
      measure: 'RSS per task in flight (children, above idle), steady',
      now: `${m.rssKb.toFixed(1)} KB`,
      target: `≤ ${TARGETS.rssKb} KB`,
      met: m.rssKb <= TARGETS.rssKb,
    });
  }
  if (m.intoStore) {
    const ratio = m.intoStore.drover / m.intoStore.bullmq;
    rows.push({
      measure: 'submit → done, no-op agent, into the store',
      now: `${n(m.intoStore.drover)}/s (${ratio.toFixed(2)}× BullMQ's ${n(m.intoStore.bullmq)}/s)`,
      target: '≥ BullMQ at concurrency 32, same machine',
      met: ratio >= 1,
    });
  }
  if (m.http) {
    // The Node client is the user's yardstick; wrk, which costs the shared cores less, is shown beside it.
    rows.push({
      measure: 'submit → done over HTTP, 64 keep-alive connections (Node client; wrk)',
      now: `${n(m.http.node)}/s; ${n(m.http.wrk)}/s`,
      target: `≥ ${n(TARGETS.httpPerS)}/s`,
      met: m.http.node >= TARGETS.httpPerS,
    });
  }
  return rows;
}

/**
 * The arithmetic behind the run-time and loop-delay verdicts on a machine that is short of CPU:
 * at the rate the target needs, drover's CPU per task plus what the mock LLM and the bench
 * used beside it, against the machine's cores. When that sum is over the cores, tasks wait for
 * CPU and run time stretches, whatever one stall is removed.
 */
export function cpuBudget(c: CpuMeasure): string {
  const drover = (c.neededPerS * c.usPerTask) / 1e6;
  const total = drover + c.othersCores;
  const verdict = total > c.cores ? 'more than the machine has' : 'within the machine';
  return `CPU: drover used ${n(c.usPerTask)} µs per task. The target needs ${n(c.neededPerS)} completions/s, ` +
    `${drover.toFixed(2)} cores at that cost; with the ${c.othersCores.toFixed(2)} cores the mock LLM and this bench used in this run, ` +
    `${total.toFixed(2)} of the machine's ${c.cores} cores: ${verdict}.`;
}

export function targetsTable(rows: readonly TargetRow[]): string[] {
  return [
    '| measure | now | target | verdict |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.measure} | ${r.now} | ${r.target} | ${r.met ? 'met' : '**not met**'} |`),
  ];
}

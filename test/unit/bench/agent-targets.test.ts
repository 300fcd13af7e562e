import { describe, expect, it } from 'vitest';
import { agentTargets, cpuBudget, targetsTable, type AgentMeasures } from '../../../bench/lib/agent-targets.ts';

const verdict = (m: AgentMeasures) => agentTargets(m).map((r) => r.met);

describe("bench:agents' verdicts on issue 20's targets", () => {
  it.each<[string, AgentMeasures, boolean]>([
    ['in flight: the median sample at the target', { inflight: { p50: 10_000, min: 7_000, target: 10_000 } }, true],
    ['in flight: the median sample below it (the ramp reaching it is not holding it)', { inflight: { p50: 9_950, min: 9_900, target: 10_000 } }, false],
    ['run time at 1.1× the LLM time', { run: { p50Ms: 2_200, llmMs: 2_000 } }, true],
    ['run time just over 1.1×', { run: { p50Ms: 2_201, llmMs: 2_000 } }, false],
    ['event-loop delay under 50 ms in every second', { lag: { medianMs: 20, maxMs: 49 } }, true],
    ['event-loop delay at 50 ms in one second of the window', { lag: { medianMs: 20, maxMs: 50 } }, false],
    ['RSS at 60 KB per task', { rssKb: 60 }, true],
    ['RSS at 60.1 KB per task', { rssKb: 60.1 }, false],
    ['into the store as fast as BullMQ', { intoStore: { drover: 20_000, bullmq: 20_000 } }, true],
    ['into the store slower than BullMQ', { intoStore: { drover: 12_000, bullmq: 21_000 } }, false],
    ['HTTP: the Node client at 5,000/s', { http: { node: 5_000, wrk: 8_000 } }, true],
    ['HTTP: only wrk over 5,000/s (the Node client is the yardstick)', { http: { node: 4_999, wrk: 8_000 } }, false],
  ])('%s', (_name, measures, met) => {
    expect(verdict(measures)).toEqual([met]);
  });

  it('prints a row only for the parts that ran, in the issue order, and marks what is not met', () => {
    const rows = agentTargets({ rssKb: 104, http: { node: 5_473, wrk: 8_146 }, run: { p50Ms: 2_160, llmMs: 2_000 } });
    expect(rows.map((r) => r.measure)).toEqual([
      'run time p50 for a 2 s LLM call',
      'RSS per task in flight (children, above idle), steady',
      'submit → done over HTTP, 64 keep-alive connections (Node client; wrk)',
    ]);
    const table = targetsTable(rows);
    expect(table).toHaveLength(2 + 3);
    expect(table[2]).toBe('| run time p50 for a 2 s LLM call | 2,160 ms (1.08×) | ≤ 1.1× the LLM time | met |');
    expect(table[3]).toContain('| 104.0 KB | ≤ 60 KB | **not met** |');
    expect(table[4]).toContain('5,473/s; 8,146/s');
  });

  it('gives the ratio to BullMQ in the store row', () => {
    const [row] = agentTargets({ intoStore: { drover: 12_225, bullmq: 21_824 } });
    expect(row!.now).toBe("12,225/s (0.56× BullMQ's 21,824/s)");
  });

  it.each([
    // 5,000/s × 480 µs = 2.4 cores, + 0.45 beside = 2.85 of 2
    [{ usPerTask: 480, neededPerS: 5_000, othersCores: 0.45, cores: 2 }, '2.40 cores', '2.85 of the machine\'s 2 cores: more than the machine has'],
    // 5,000/s × 280 µs = 1.4 cores, + 0.45 = 1.85 of 2
    [{ usPerTask: 280, neededPerS: 5_000, othersCores: 0.45, cores: 2 }, '1.40 cores', '1.85 of the machine\'s 2 cores: within the machine'],
  ])('says whether the CPU the target needs fits the machine (%#)', (cpu, droverCores, verdict) => {
    const line = cpuBudget(cpu);
    expect(line).toContain(`${cpu.usPerTask} µs per task`);
    expect(line).toContain(`5,000 completions/s, ${droverCores} at that cost`);
    expect(line).toContain(verdict);
  });
});

import { describe, expect, it } from 'vitest';
import { computeSizing, explainSizing, type Machine } from '../../../src/config/sizing.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import type { Config } from '../../../src/config/schema.ts';

const MiB = 2 ** 20;

function machine(cpus: number, memoryMb: number): Machine {
  return { cpu: { cpus, source: 'test cpu' }, memory: { bytes: memoryMb * MiB, source: 'test memory' } };
}

/** Defaults with some keys changed, section by section. */
function config(changes: { [S in keyof Config]?: Partial<Config[S]> } = {}): Config {
  const c = defaultConfig();
  for (const [section, values] of Object.entries(changes)) Object.assign(c[section as keyof Config], values);
  return c;
}

describe('computeSizing', () => {
  it('sizes the defaults on 2.5 CPUs and 4 GiB, capped by the provider', () => {
    const s = computeSizing(config(), machine(2.5, 4096));
    expect(s).toMatchObject({
      cpuShare: 2.5, memoryLimitMb: 4096, children: 3, minChildren: 1, maxChildren: 5,
      threads: 1, memoryBudgetMb: 409, tasksPerThread: 256, slotsPerChild: 256, limitedBy: 'providers',
    });
    expect(s.explanation).toEqual([
      'CPU share = 2.5 (test cpu)',
      'memory limit = 4096 MB (test memory)',
      'max_children = ceil(2 × CPU share 2.5) = 5',
      'children = ceil(CPU share 2.5) = 3',
      'λ per child = expected_arrival_rate 10/s ÷ 3 children = 3.33/s',
      'threads = ceil(λ 3.33/s × CPU 0.02 s per task ÷ target 0.5) = ceil(0.13), within 1..1 (CPU share per child) = 1',
      'memory budget = 50% × 4096 MB ÷ max_children 5 = 409 MB per child',
      "Little's law: ceil(λ 3.33/s × 60 s × headroom 1.5 ÷ 1 thread) = 300 tasks per thread",
      'memory cap: floor(409 MB ÷ 0.5 MB per task ÷ 1 thread) = 818 tasks per thread',
      'provider cap: floor(max_concurrency mock 256 ÷ 1 thread) = 256 tasks per thread',
      'tasks_per_thread = min(300, 818, 256) = 256 (set by providers)',
      'slots per child = 1 thread × 256 = 256; × 3 children = 768 tasks at once, ≈ 12.8 tasks/s at 60 s each',
    ]);
    expect(s.warnings).toEqual([]);
  });

  it('follows Little\'s law when the arrival rate is the smallest bound', () => {
    const s = computeSizing(config({ executor: { expected_arrival_rate: 1, expected_task_seconds: 30 } }), machine(1, 8192));
    expect(s).toMatchObject({ children: 1, maxChildren: 2, threads: 1, tasksPerThread: 45, limitedBy: 'arrival rate' });
    expect(s.explanation).toContain("Little's law: ceil(λ 1/s × 30 s × headroom 1.5 ÷ 1 thread) = 45 tasks per thread");
  });

  it('caps concurrency by the memory budget', () => {
    const s = computeSizing(config({ executor: { memory_per_task_mb: 8 } }), machine(2, 1024));
    expect(s).toMatchObject({ maxChildren: 4, memoryBudgetMb: 128, tasksPerThread: 16, limitedBy: 'memory' });
    expect(s.explanation).toContain('memory cap: floor(128 MB ÷ 8 MB per task ÷ 1 thread) = 16 tasks per thread');
  });

  it('adds threads for CPU-heavy tasks, up to the CPU share per child', () => {
    const base = { expected_arrival_rate: 20, cpu_ms_per_task: 500 };
    const s = computeSizing(config({ supervisor: { children: 2 }, executor: base }), machine(8, 16384));
    expect(s.threads).toBe(4); // wants ceil(10/s × 0.5 s ÷ 0.5) = 10, gets floor(8 CPUs ÷ 2 children)
    const light = computeSizing(config({ supervisor: { children: 2 }, executor: { ...base, cpu_ms_per_task: 60 } }), machine(8, 16384));
    expect(light.threads).toBe(2); // ceil(10/s × 0.06 s ÷ 0.5) = ceil(1.2)
  });

  it('sums max_concurrency over providers for the provider cap', () => {
    const c = config({ executor: { expected_arrival_rate: 100 } });
    c.llm.providers = { a: { ...c.llm.providers['mock']!, max_concurrency: 100 }, b: { ...c.llm.providers['mock']!, max_concurrency: 50 } };
    const s = computeSizing(c, machine(1, 65536));
    expect(s.tasksPerThread).toBe(150);
    expect(s.explanation).toContain('provider cap: floor(max_concurrency a 100 + b 50 ÷ 1 thread) = 150 tasks per thread');
  });

  it('keeps every explicit value and warns where they disagree', () => {
    const s = computeSizing(config({
      supervisor: { children: 4 },
      autoscale: { max_children: 6 },
      executor: { threads: 3, tasks_per_thread: 1000, memory_budget_mb: 100 },
    }), machine(2, 4096));
    expect(s).toMatchObject({ children: 4, maxChildren: 6, threads: 3, tasksPerThread: 1000, memoryBudgetMb: 100, slotsPerChild: 3000, limitedBy: 'config' });
    expect(s.explanation).toEqual(expect.arrayContaining([
      'max_children = 6 (set in autoscale.max_children)',
      'children = 4 (set in supervisor.children)',
      'threads = 3 (set in executor.threads)',
      'memory budget = 100 MB per child (set in executor.memory_budget_mb)',
      'tasks_per_thread = 1000 (set in executor.tasks_per_thread)',
    ]));
    expect(s.warnings).toEqual([
      '3000 slots × 0.5 MB per task exceed the memory budget of 100 MB per child',
      "3000 slots per child exceed the providers' max_concurrency 256; tasks beyond it wait for a provider connection",
    ]);
  });

  it('raises auto children to min_children, and max_children with it', () => {
    const s = computeSizing(config({ autoscale: { min_children: 3 } }), machine(1, 4096));
    expect(s).toMatchObject({ children: 3, maxChildren: 3 });
    expect(s.explanation).toContain('max_children = ceil(2 × CPU share 1) = 2, raised to min_children 3');
    expect(s.explanation).toContain('children = ceil(CPU share 1) = 1, kept within autoscale 3..3 = 3');
  });

  it('without autoscaling, divides memory by the children that run, not max_children', () => {
    const s = computeSizing(config({ autoscale: { enabled: false } }), machine(4, 4096));
    expect(s).toMatchObject({ children: 4, memoryBudgetMb: 512 });
    expect(s.explanation).toContain('memory budget = 50% × 4096 MB ÷ 4 children = 512 MB per child');
  });

  it('warns when even max_children cannot absorb the expected arrival rate', () => {
    const s = computeSizing(config({ executor: { expected_arrival_rate: 100 } }), machine(2, 8192));
    expect(s.warnings).toEqual(['at 4 children this node completes ≈ 17.07 tasks/s, below expected_arrival_rate 100/s; the queue will grow']);
  });

  it('warns about explicit children outside the autoscale range', () => {
    const s = computeSizing(config({ supervisor: { children: 9 }, autoscale: { max_children: 4 } }), machine(2, 8192));
    expect(s.warnings[0]).toBe('supervisor.children 9 is outside the autoscale range 1..4; the autoscaler will move it there');
  });
});

describe('explainSizing', () => {
  it('leads with the result, then the arithmetic, then warnings', () => {
    const lines = explainSizing(computeSizing(config({ executor: { threads: 2, tasks_per_thread: 500 } }), machine(2, 1024)));
    expect(lines[0]).toBe('per child: 2 threads × 500 tasks per thread = 1000 concurrent tasks; 2 children at start (autoscale 1..4)');
    expect(lines).toContain('  threads = 2 (set in executor.threads)');
    expect(lines.at(-1)).toMatch(/^warning: 1000 slots per child exceed the providers' max_concurrency 256/);
  });
});

// Ways to keep a thread busy on purpose, as a CPU-heavy handler does.

/** Keeps this thread busy for `ms` of wall time (less CPU than that on a busy machine). */
export function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Keeps this thread busy until it has used `ms` of CPU, as a CPU-heavy handler does however
 * busy the machine is (a wall-time spin may get little CPU on a starved one). At most 10 s.
 */
export function burn(ms: number): void {
  const start = process.threadCpuUsage();
  const cap = performance.now() + 10_000;
  for (;;) {
    const used = process.threadCpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms || performance.now() > cap) return;
    spin(1);
  }
}

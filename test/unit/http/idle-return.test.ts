import { afterEach, describe, expect, it } from 'vitest';
import { IdleReturn } from '../../../src/http/idle-return.ts';
import { sleep } from '../../helpers/http.ts';

/** Keeps this thread on the CPU for `ms`, as a CPU-heavy handler does. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Blocks this thread for `ms` without using the CPU, as a machine that does not schedule it does. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let running: IdleReturn | undefined;
afterEach(() => running?.stop());

/** An IdleReturn sweeping every 10 ms that counts the sweeps that looked for idle connections. */
function watch(): { looked: () => number } {
  let looked = 0;
  running = new IdleReturn(10, () => {
    looked++;
    return [];
  }, () => {});
  running.start();
  return { looked: () => looked };
}

describe('IdleReturn: when a child gives idle connections back', () => {
  it('not while nothing holds the event loop', async () => {
    const w = watch();
    await sleep(100);
    expect(w.looked()).toBe(0);
  });

  it('not after the loop stood still without using the CPU (the kernel did not run it)', async () => {
    const w = watch();
    await sleep(20);
    stall(80);
    await sleep(50);
    expect(w.looked()).toBe(0);
  });

  it('not after a short stall (under 25 ms of CPU) that a busy machine stretched, such as compiling a route once', async () => {
    const w = watch();
    await sleep(20);
    // Seen in a child on a busy machine: 16 ms of CPU over a 44 ms gap.
    stall(25);
    spin(20);
    await sleep(50);
    expect(w.looked()).toBe(0);
  });

  it('once a handler has held the loop on the CPU, on every sweep after it', async () => {
    const w = watch();
    await sleep(20);
    spin(150);
    await sleep(50);
    const first = w.looked();
    expect(first).toBeGreaterThanOrEqual(1);
    await sleep(50);
    expect(w.looked()).toBeGreaterThan(first);
  });

  it('never with rebind_idle_after = 0', async () => {
    let looked = 0;
    running = new IdleReturn(0, () => {
      looked++;
      return [];
    }, () => {});
    running.start();
    spin(60);
    await sleep(50);
    expect(looked).toBe(0);
  });
});

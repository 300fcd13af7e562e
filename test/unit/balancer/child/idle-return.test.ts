import { afterEach, describe, expect, it } from 'vitest';
import { burn, spin } from '../../../helpers/cpu.ts';
import { IdleReturn } from '../../../../src/balancer/child/idle-return.ts';
import { sleep } from '../../../helpers/http.ts';

/** Blocks this thread for `ms` without using the CPU, as a machine that does not schedule it does. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let running: IdleReturn | undefined;
afterEach(() => running?.stop());

/**
 * An IdleReturn (rebind_idle_after 10 ms and no warm-up unless said) that counts the sweeps
 * that looked for idle connections.
 */
function watch(afterMs = 10, warmupMs = 0): { looked: () => number } {
  let looked = 0;
  running = new IdleReturn(afterMs, () => {
    looked++;
    return [];
  }, () => {}, warmupMs);
  running.start();
  return { looked: () => looked };
}

describe('IdleReturn: when a child gives idle connections back', () => {
  it.each([
    ['while nothing holds the event loop', () => {}],
    ['after the loop stood still without using the CPU (the kernel did not run it)', () => stall(80)],
    // Seen in a child on a busy machine: 16 ms of CPU over a 44 ms gap.
    ['after a short stall (under 25 ms of CPU) that a busy machine stretched, such as compiling a route once', () => {
      stall(25);
      spin(20);
    }],
  ])('not %s', async (_, block: () => void) => {
    const w = watch();
    await sleep(20);
    block();
    await sleep(80);
    expect(w.looked()).toBe(0);
  });

  it('once a handler has held the loop on the CPU, on every sweep after it', async () => {
    const w = watch();
    await sleep(20);
    burn(60);
    await sleep(50);
    const first = w.looked();
    expect(first).toBeGreaterThanOrEqual(1);
    await sleep(50);
    expect(w.looked()).toBeGreaterThan(first);
  });

  it('not for a hold in its first seconds (a child that just booted), but for one after them', async () => {
    const w = watch(10, 600);
    await sleep(20);
    burn(60);
    await sleep(80);
    expect(w.looked()).toBe(0);
    await sleep(600);
    burn(60);
    await sleep(50);
    expect(w.looked()).toBeGreaterThanOrEqual(1);
  });

  it('never with rebind_idle_after = 0', async () => {
    const w = watch(0);
    burn(60);
    await sleep(50);
    expect(w.looked()).toBe(0);
  });
});

describe('IdleReturn: whether a handler held the event loop lately (which paces load reports)', () => {
  it.each([10, 0])('not at first, and yes after a hold on the CPU (rebind_idle_after %i ms)', async (afterMs) => {
    watch(afterMs);
    await sleep(20);
    expect(running!.heldLately()).toBe(false);
    burn(60);
    await sleep(50);
    expect(running!.heldLately()).toBe(true);
  });

  it('not after the loop stood still without using the CPU', async () => {
    watch(0);
    await sleep(20);
    stall(80);
    await sleep(50);
    expect(running!.heldLately()).toBe(false);
  });
});

describe('IdleReturn: the event-loop lag a child reports', () => {
  it('is near zero while nothing holds the loop, and shows a hold of the loop', async () => {
    watch(0);
    await sleep(120);
    expect(running!.takeLag()).toBeLessThan(0.1);
    await sleep(20);
    burn(150);
    await sleep(30);
    const lag = running!.takeLag();
    expect(lag).toBeGreaterThanOrEqual(0.13);
    expect(lag).toBeLessThan(1);
    // A new interval starts at each call: the hold is not reported twice.
    await sleep(50);
    expect(running!.takeLag()).toBeLessThan(0.1);
  });

  it('counts a hold that is still going on when asked', () => {
    watch(0);
    burn(100);
    expect(running!.takeLag()).toBeGreaterThanOrEqual(0.08);
  });
});

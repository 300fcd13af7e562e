import { describe, expect, it } from 'vitest';
import { ACK_DELAY_MS, QUICK_REPORT_DELAY_MS, ReportPace } from '../../../../src/balancer/child/report-pace.ts';
import { eventually, sleep } from '../../../helpers/http.ts';

/** A pace whose reports are recorded (performance.now() of each). */
function pace(held: boolean): { pace: ReportPace; times: number[] } {
  const times: number[] = [];
  const p: ReportPace = new ReportPace(() => {
    times.push(performance.now());
    p.sent();
  }, () => held);
  return { pace: p, times };
}

/** A change in load every millisecond for `ms`, as a busy child sees. */
async function busy(p: ReportPace, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    p.changed(false);
    await sleep(1);
  }
}

describe('ReportPace: how often a child reports its load', () => {
  it('with quick handlers only, a busy child reports at once and then at most every 50 ms', async () => {
    const { pace: p, times } = pace(false);
    const start = performance.now();
    await busy(p, 200);
    expect(times[0]! - start).toBeLessThan(5);
    // 200 ms of changes: the first at once, then one per 50 ms (a slow machine only makes fewer).
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(times.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(QUICK_REPORT_DELAY_MS - 2);
  });

  it('while handlers hold the event loop, every 5 ms: the supervisor must see a held child soon', async () => {
    const { pace: p, times } = pace(true);
    await busy(p, 200);
    // Every 5 ms would be 40; a loaded machine runs the 1 ms timer less often.
    expect(times.length).toBeGreaterThanOrEqual(10);
  });

  it('while the supervisor hands it connections, every 5 ms: it counts each handoff until a report accounts for it', async () => {
    const { pace: p, times } = pace(false);
    p.handedOver();
    await busy(p, 200);
    expect(times.length).toBeGreaterThanOrEqual(10);
  });

  it('back to at most every 50 ms a second after the last handoff', async () => {
    const { pace: p, times } = pace(false);
    p.handedOver();
    await sleep(1000);
    const before = times.length;
    await busy(p, 200);
    expect(times.length - before).toBeLessThanOrEqual(5);
  });

  it('acknowledges a handoff within 2 ms of the last report, even with a longer delay running, and not in the same turn', async () => {
    const { pace: p, times } = pace(false);
    p.changed(false); // at once: nothing reported before
    p.changed(false); // scheduled 50 ms after it
    expect(times).toHaveLength(1);
    p.handedOver();
    expect(times).toHaveLength(1);
    await eventually(() => times.length === 2, 1000, 1);
    // Without the acknowledgement it would come with the change, 50 ms after the first report.
    expect(times[1]! - times[0]!).toBeLessThan(QUICK_REPORT_DELAY_MS - 10);
    // Handoffs in a row are acknowledged together, at most one report per ACK_DELAY_MS.
    for (let i = 0; i < 10; i++) p.handedOver();
    await eventually(() => times.length === 3, 1000, 1);
    await sleep(ACK_DELAY_MS * 10);
    expect(times).toHaveLength(3);
  });

  it('reports a change at once when nothing was reported for the delay, such as a request on an idle child', async () => {
    const { pace: p, times } = pace(false);
    p.changed(false);
    expect(times).toHaveLength(1);
    await sleep(QUICK_REPORT_DELAY_MS + 5);
    p.changed(false);
    expect(times).toHaveLength(2);
  });

  it('coalesces a change soon after a report into one sent when the delay has passed since that report', async () => {
    const { pace: p, times } = pace(false);
    p.sent(); // a heartbeat's report
    const sentAt = performance.now();
    p.changed(false);
    p.changed(false);
    expect(times).toHaveLength(0);
    await sleep(QUICK_REPORT_DELAY_MS * 3);
    expect(times).toHaveLength(1);
    // Timers run on the loop's clock, which can be behind performance.now() by a millisecond.
    expect(times[0]! - sentAt).toBeGreaterThanOrEqual(QUICK_REPORT_DELAY_MS - 2);
  });

  it('reports freeing a full child at once, even right after another report', () => {
    const { pace: p, times } = pace(false);
    p.changed(false);
    p.changed(true);
    expect(times).toHaveLength(2);
  });
});

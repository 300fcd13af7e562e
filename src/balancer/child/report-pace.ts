import { performance } from 'node:perf_hooks';

/** Reports at most this often while the supervisor relies on fresh loads (see ReportPace). */
export const REPORT_DELAY_MS = 5;
/**
 * Reports at most this often otherwise. Each report costs both processes a wakeup: two
 * children under keep-alive load sent ~400 reports a second at 5 ms and served 0.86× node
 * cluster's requests; at 50 ms, 0.96×, in the same run (bench/RESULTS.md).
 */
export const QUICK_REPORT_DELAY_MS = 50;
/** A connection or request the supervisor handed over keeps the short delay this long. */
const HANDED_MEMORY_MS = 1000;
/**
 * A handoff is acknowledged (a report with `received` counting it) at most this long after the
 * last report. The supervisor counts each handoff it has no report of as a connection and a
 * request; with sequential short connections handed over every millisecond, 5 ms of them
 * made an idle child look as loaded as one holding five long requests.
 */
export const ACK_DELAY_MS = 2;

/**
 * When a child tells the supervisor its load. A change is reported at once when nothing was
 * reported for the delay, else once the delay has passed since the last report (coalesced);
 * freeing a full child is reported at once.
 *
 * The short delay applies while the supervisor's view of this child decides where work goes:
 * - while a handler has held the event loop lately (`heldLately`). Reporting at once matters
 *   when a request starts on an idle child: a handler that holds the loop delays a scheduled
 *   report until it is done, and meanwhile the supervisor would see an idle child.
 * - while the supervisor hands this child connections or requests (handedOver). It adds each
 *   handoff to the load last reported until a report accounts for it, so with slow reports a
 *   child that finishes short requests at once would look busier with every one.
 * Otherwise no handler holds the loop and this child accepts its own connections: the
 * supervisor steers it only through its accept limit, which moves by several connections at a
 * time, and the long delay saves the messages. A child with nothing reported for 50 ms still
 * reports its next change at once, and a handoff goes within ACK_DELAY_MS whatever the delay.
 */
export class ReportPace {
  private scheduled?: NodeJS.Timeout;
  private reportedAt = -Infinity;
  /** When the scheduled report is due (performance.now()). */
  private due = 0;
  private handedAt = -Infinity;
  private readonly report: () => void;
  private readonly heldLately: (now: number) => boolean;

  /** `report` sends the load and must call sent(); `heldLately` is asked with the time it was read. */
  constructor(report: () => void, heldLately: (now: number) => boolean) {
    this.report = report;
    this.heldLately = heldLately;
  }

  changed(urgent: boolean): void {
    if (urgent) return this.report();
    if (this.scheduled) return;
    const now = performance.now();
    const fresh = now - this.handedAt < HANDED_MEMORY_MS || this.heldLately(now);
    const due = this.reportedAt + (fresh ? REPORT_DELAY_MS : QUICK_REPORT_DELAY_MS);
    if (due <= now) return this.report();
    this.schedule(due, now);
  }

  /**
   * The supervisor handed this child a connection or a request: reported within ACK_DELAY_MS
   * of the last report, and never in this turn of the event loop, which has yet to count it.
   */
  handedOver(): void {
    const now = performance.now();
    this.handedAt = now;
    const due = Math.max(now, this.reportedAt + ACK_DELAY_MS);
    if (this.scheduled) {
      if (this.due <= due) return;
      clearTimeout(this.scheduled);
    }
    this.schedule(due, now);
  }

  private schedule(due: number, now: number): void {
    this.due = due;
    // Whole milliseconds, rounded up: a timer may fire up to a millisecond before a fraction.
    this.scheduled = setTimeout(this.report, Math.ceil(due - now));
  }

  /** A report went out (scheduled, urgent, or sent for another reason such as a heartbeat). */
  sent(): void {
    clearTimeout(this.scheduled);
    this.scheduled = undefined;
    this.reportedAt = performance.now();
  }
}

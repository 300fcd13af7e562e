// A provider's circuit breaker: after `threshold` provider faults in a row it opens, and calls
// fail fast without reaching the provider; once `cooldownMs` has passed, one call goes through
// as a trial while the others still fail fast, and its outcome closes the breaker or opens it
// again. A pure state machine on the caller's clock, so the transitions are tested as a table.
// (cockatiel's breaker did this before, but its execute() keeps two suspended async frames per
// call in flight: ~1 KB each of thousands of waiting calls, bench/RESULTS.md "LLM connections".)

/** What became of one admitted call. `abandoned`: its caller gave up, which says nothing of the provider. */
export type CallOutcome = 'ok' | 'fault' | 'other' | 'abandoned';

/** `pass`: closed; `trial`: the one call let through after the cooldown; `refuse`: fail fast. */
export type Admission = 'pass' | 'trial' | 'refuse';

export type BreakerState = 'closed' | 'open' | 'half-open';

export class Breaker {
  readonly threshold: number;
  readonly cooldownMs: number;
  /** Times it opened, from closed or after a failed trial. */
  opens = 0;
  private closed = true;
  private faults = 0;
  private openedAt = 0;
  private trialOut = false;

  constructor(threshold: number, cooldownMs: number) {
    this.threshold = threshold;
    this.cooldownMs = cooldownMs;
  }

  admit(now: number): Admission {
    if (this.closed) return 'pass';
    if (this.trialOut || now - this.openedAt < this.cooldownMs) return 'refuse';
    this.trialOut = true;
    return 'trial';
  }

  /** Records the outcome of a call `admit` let through; `trial` says it was admitted as the trial. */
  record(outcome: CallOutcome, trial: boolean, now: number): void {
    if (trial) {
      this.trialOut = false;
      if (outcome === 'fault') this.open(now);
      // The provider answered (a 400 or a 429 is an answer): it is up.
      else if (outcome !== 'abandoned') this.close();
      return;
    }
    // Calls admitted before it opened change nothing once it is open.
    if (!this.closed) return;
    if (outcome === 'ok') this.faults = 0;
    else if (outcome === 'fault' && ++this.faults >= this.threshold) this.open(now);
  }

  get state(): BreakerState {
    if (this.closed) return 'closed';
    return this.trialOut ? 'half-open' : 'open';
  }

  private open(now: number): void {
    this.closed = false;
    this.openedAt = now;
    this.opens++;
  }

  private close(): void {
    this.closed = true;
    this.faults = 0;
  }
}

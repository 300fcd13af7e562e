import { describe, expect, it } from 'vitest';
import { Breaker, type Admission, type BreakerState, type CallOutcome } from '../../../src/agent/llm/breaker.ts';

// Each step: at time `at`, either admit a call (expecting `admit`), or record the outcome of
// the call admitted as `of` ('pass' or 'trial'); then the state reads `state`.
type Step =
  | { at: number; admit: Admission; state: BreakerState }
  | { at: number; record: CallOutcome; of: 'pass' | 'trial'; state: BreakerState };

function play(steps: Step[], threshold = 3, cooldownMs = 1_000): { opens: number } {
  const b = new Breaker(threshold, cooldownMs);
  steps.forEach((s, i) => {
    if ('admit' in s) expect(b.admit(s.at), `step ${i}: admit`).toBe(s.admit);
    else b.record(s.record, s.of === 'trial', s.at);
    expect(b.state, `step ${i}: state`).toBe(s.state);
  });
  return { opens: b.opens };
}

const fault = (at: number, state: BreakerState = 'closed'): Step => ({ at, record: 'fault', of: 'pass', state });

describe('Breaker', () => {
  it('opens at the threshold of faults in a row, and refuses until the cooldown has passed', () => {
    const { opens } = play([
      { at: 0, admit: 'pass', state: 'closed' },
      fault(1), fault(2), fault(3, 'open'),
      { at: 500, admit: 'refuse', state: 'open' },
      { at: 1_002, admit: 'refuse', state: 'open' },
      { at: 1_003, admit: 'trial', state: 'half-open' },
    ]);
    expect(opens).toBe(1);
  });

  it('counts faults in a row only: an answer resets the count, other failures leave it', () => {
    play([
      fault(1), fault(2),
      { at: 3, record: 'ok', of: 'pass', state: 'closed' },
      fault(4), fault(5),
      { at: 6, record: 'other', of: 'pass', state: 'closed' },
      { at: 7, record: 'abandoned', of: 'pass', state: 'closed' },
      fault(8, 'open'),
    ]);
  });

  it('lets one trial through after the cooldown; the others fail fast while it runs', () => {
    play([
      fault(0), fault(0), fault(0, 'open'),
      { at: 1_000, admit: 'trial', state: 'half-open' },
      { at: 1_001, admit: 'refuse', state: 'half-open' },
      { at: 1_500, record: 'ok', of: 'trial', state: 'closed' },
      { at: 1_501, admit: 'pass', state: 'closed' },
    ]);
  });

  it('a failed trial opens it again for a whole cooldown, and counts as another opening', () => {
    const { opens } = play([
      fault(0), fault(0), fault(0, 'open'),
      { at: 1_000, admit: 'trial', state: 'half-open' },
      { at: 1_200, record: 'fault', of: 'trial', state: 'open' },
      { at: 2_100, admit: 'refuse', state: 'open' },
      { at: 2_200, admit: 'trial', state: 'half-open' },
      { at: 2_300, record: 'other', of: 'trial', state: 'closed' },
    ]);
    expect(opens).toBe(2);
  });

  it('an abandoned trial leaves it open, and the next call is the trial', () => {
    play([
      fault(0), fault(0), fault(0, 'open'),
      { at: 1_000, admit: 'trial', state: 'half-open' },
      { at: 1_100, record: 'abandoned', of: 'trial', state: 'open' },
      { at: 1_101, admit: 'trial', state: 'half-open' },
    ]);
  });

  it('outcomes of calls admitted before it opened change nothing', () => {
    play([
      fault(0), fault(0), fault(0, 'open'),
      { at: 10, record: 'ok', of: 'pass', state: 'open' },
      { at: 20, admit: 'refuse', state: 'open' },
    ]);
  });
});

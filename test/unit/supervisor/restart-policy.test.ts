import { describe, expect, it } from 'vitest';
import { decideRestart, INITIAL_RESTART_STATE, type RestartAction, type RestartConfig, type RestartEvent, type RestartState } from '../../../src/supervisor/restart-policy.ts';

const cfg: RestartConfig = { initialS: 0.5, maxS: 30, healthyAfterS: 30, maxBootFailures: 5 };

/** Runs events at their times (ms) from the initial state; returns the actions of the last one. */
function run(steps: [number, RestartEvent][]): { state: RestartState; actions: RestartAction[] } {
  let state = INITIAL_RESTART_STATE;
  let actions: RestartAction[] = [];
  for (const [at, event] of steps) ({ state, actions } = decideRestart(state, event, at, cfg));
  return { state, actions };
}

const crash = (slot: number, upS = 1): RestartEvent => ({ type: 'crashed', slot, upS });
const bootFail = (slot: number, ready: number): RestartEvent => ({ type: 'boot-failed', slot, ready });
const due = (missing: number[], live: number): RestartEvent => ({ type: 'due', missing, live });

describe('decideRestart', () => {
  const cases: [string, [number, RestartEvent][], RestartAction[]][] = [
    ['a first crash backs off the initial delay', [[0, crash(0)]], [{ type: 'backoff', slot: 0, delayS: 0.5, failures: 1 }]],
    ['crashes of one slot double its delay', [[0, crash(0)], [600, crash(0)], [2000, crash(0)]], [{ type: 'backoff', slot: 0, delayS: 2, failures: 3 }]],
    ['crashes of other slots do not grow a slot\'s delay', [[0, crash(0)], [100, crash(1)], [200, crash(2)], [300, crash(1)], [400, crash(2)], [500, crash(0)]], [{ type: 'backoff', slot: 0, delayS: 1, failures: 2 }]],
    ['the delay stops at the maximum', Array.from({ length: 9 }, (_, i): [number, RestartEvent] => [i * 1000, crash(0)]), [{ type: 'backoff', slot: 0, delayS: 30, failures: 9 }]],
    ['a child up for healthy_after starts its slot again at the initial delay', [[0, crash(0)], [1000, crash(0)], [2000, crash(0, 31)]], [{ type: 'backoff', slot: 0, delayS: 0.5, failures: 1 }]],
    ['a slot within its backoff waits while others serve', [[0, crash(0)], [1000, crash(0)], [1100, due([0], 2)]], [{ type: 'wake', inMs: 900 }]],
    ['a slot past its backoff is started', [[0, crash(0)], [600, due([0], 2)]], [{ type: 'spawn', slot: 0 }]],
    ['a slot never seen is started at once', [[0, due([0, 1], 0)]], [{ type: 'spawn', slot: 0 }, { type: 'spawn', slot: 1 }]],
    ['six crashes of three slots: an empty node waits at most the initial delay for one child',
      [[0, crash(0)], [10, crash(1)], [20, crash(2)], [2000, crash(0)], [2010, crash(1)], [2020, crash(2)], [2030, due([0, 1, 2], 0)]],
      [{ type: 'wake', inMs: 500 }]],
    ['…and then starts the soonest slot; the others keep their backoff',
      [[0, crash(0)], [10, crash(1)], [20, crash(2)], [2000, crash(0)], [2010, crash(1)], [2020, crash(2)], [2030, due([0, 1, 2], 0)], [2530, due([0, 1, 2], 0)]],
      [{ type: 'spawn', slot: 0 }, { type: 'wake', inMs: 480 }]],
    ['the empty-node rule waits afresh once a child was started',
      [[0, due([0], 0)], [5000, crash(0)], [5000, crash(0)], [5000, crash(0)], [5001, due([0], 0)]],
      [{ type: 'wake', inMs: 500 }]],
    ['boot failures back off per slot', [[0, bootFail(0, 0)], [600, bootFail(0, 0)]], [{ type: 'backoff', slot: 0, delayS: 1, failures: 2 }]],
    ['the breaker gives up when nothing is ready', [[0, bootFail(0, 0)], [1, bootFail(1, 0)], [2, bootFail(2, 0)], [600, bootFail(0, 0)], [601, bootFail(1, 0)]], [{ type: 'give-up', bootFailures: 5 }]],
    ['the breaker retries slowly while others serve', [[0, bootFail(0, 2)], [1, bootFail(0, 2)], [2, bootFail(0, 2)], [3, bootFail(0, 2)], [4, bootFail(0, 2)]], [{ type: 'retry-slowly', slot: 0, delayS: 30, bootFailures: 5 }]],
    ['a child that becomes ready resets the breaker', [[0, bootFail(0, 0)], [1, bootFail(1, 0)], [2, bootFail(2, 0)], [3, bootFail(0, 0)], [4, { type: 'ready' }], [5, bootFail(1, 0)]], [{ type: 'backoff', slot: 1, delayS: 1, failures: 2 }]],
    ['nothing missing: nothing to do', [[0, due([], 2)]], []],
  ];

  it.each(cases)('%s', (_, steps, actions) => {
    expect(run(steps).actions).toEqual(actions);
  });
});

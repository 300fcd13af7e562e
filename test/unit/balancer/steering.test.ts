// Steering for children that accept from the shared socket: no limit while their loads are
// within a slack of each other; past it every child may reach the lowest load plus the slack.
import { describe, expect, it } from 'vitest';
import { acceptLimit, limitNeedsSending, type SteeredChild, type Steering } from '../../../src/balancer/supervisor/steering.ts';
import { NO_LIMIT } from '../../../src/ipc/messages.ts';

const ready = (load: number): SteeredChild => ({ state: 'ready', load });

describe('acceptLimit', () => {
  it.each<[string, SteeredChild[], Steering]>([
    ['no child', [], { limit: NO_LIMIT, slack: 4, spread: false }],
    ['one ready child: no one to yield to', [ready(50)], { limit: NO_LIMIT, slack: 25, spread: false }],
    ['one ready and one starting: spread, no limit', [ready(10), { state: 'starting', load: 0 }], { limit: NO_LIMIT, slack: 5, spread: true }],
    ['only starting children', [{ state: 'starting', load: 0 }, { state: 'starting', load: 0 }], { limit: NO_LIMIT, slack: 4, spread: true }],
    ['loads within the minimum slack', [ready(0), ready(4)], { limit: NO_LIMIT, slack: 4, spread: true }],
    ['one pulls ahead of an idle one', [ready(0), ready(5)], { limit: 4, slack: 4, spread: true }],
    ['slack grows with the floor (half of it)', [ready(20), ready(30)], { limit: NO_LIMIT, slack: 10, spread: true }],
    ['past half the floor', [ready(20), ready(31)], { limit: 30, slack: 10, spread: true }],
    ['draining and exited children neither count nor spread', [ready(0), { state: 'draining', load: 100 }, { state: 'exited', load: 0 }], { limit: NO_LIMIT, slack: 4, spread: false }],
  ])('%s', (_, children, steering) => {
    expect(acceptLimit(children)).toEqual(steering);
  });
});

describe('limitNeedsSending', () => {
  it.each<[string, { limit?: number; spread?: boolean }, Steering, boolean]>([
    ['nothing sent yet, no limit, spread', {}, { limit: NO_LIMIT, slack: 4, spread: true }, true],
    ['same limit and spread', { limit: 10, spread: true }, { limit: 10, slack: 4, spread: true }, false],
    ['moved less than the slack', { limit: 10, spread: true }, { limit: 13, slack: 4, spread: true }, false],
    ['moved by the slack', { limit: 10, spread: true }, { limit: 14, slack: 4, spread: true }, true],
    ['moved down by the slack', { limit: 10, spread: true }, { limit: 6, slack: 4, spread: true }, true],
    ['lifted', { limit: 10, spread: true }, { limit: NO_LIMIT, slack: 4, spread: true }, true],
    ['set where there was none', { limit: NO_LIMIT, spread: true }, { limit: 10, slack: 4, spread: true }, true],
    ['spread changed, limit not', { limit: NO_LIMIT, spread: false }, { limit: NO_LIMIT, slack: 4, spread: true }, true],
    ['small move with a spread change', { limit: 10, spread: false }, { limit: 11, slack: 4, spread: true }, true],
  ])('%s', (_, last, next, send) => {
    expect(limitNeedsSending(last, next)).toBe(send);
  });
});

import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { leastLoad } from '../../../src/balancer/supervisor/least-load.ts';
import type { Target } from '../../../src/balancer/supervisor/target.ts';

/** `busy` defaults to the load (every connection bringing a request being answered). */
function target(id: number, load: number, opts: { target?: number; accepts?: boolean; busy?: number } = {}): Target & { current: number } {
  return {
    id,
    target: opts.target ?? 10,
    current: load,
    load() {
      return this.current;
    },
    busy() {
      return opts.busy ?? this.current;
    },
    accepts: () => opts.accepts ?? true,
    heard: () => true,
    settled: () => true,
    handoff(_s: Socket, _head: Buffer | undefined, done: (e: Error | null) => void) {
      this.current++;
      done(null);
    },
  };
}

describe('least-load', () => {
  it('picks the child with the least load', () => {
    const s = leastLoad();
    expect(s.pick([target(1, 5), target(2, 1), target(3, 3)])?.id).toBe(2);
  });

  // Open event streams and idle connections raise a child's load but not what it is busy with.
  it('a child whose load is over its target from open streams still has room; the lower load still wins', () => {
    const s = leastLoad();
    expect(s.pick([target(1, 500, { target: 4, busy: 1 })])?.id).toBe(1);
    expect(s.pick([target(1, 500, { target: 4, busy: 1 }), target(2, 300, { target: 4, busy: 3 })])?.id).toBe(2);
    expect(s.pick([target(1, 500, { target: 4, busy: 4 }), target(2, 300, { target: 4, busy: 4 })])).toBeUndefined();
  });

  it('skips children that do not accept or are at their target', () => {
    const s = leastLoad();
    expect(s.pick([target(1, 0, { accepts: false }), target(2, 4, { target: 4 }), target(3, 7)])?.id).toBe(3);
    expect(s.pick([target(1, 0, { accepts: false }), target(2, 4, { target: 4 })])).toBeUndefined();
  });

  it('shares a burst evenly between equal children', () => {
    const s = leastLoad();
    const ts = [target(1, 0), target(2, 0), target(3, 0)];
    const picks = Array.from({ length: 9 }, () => {
      const t = s.pick(ts)!;
      t.handoff({} as Socket, undefined, () => {});
      return t.id;
    });
    expect(picks.filter((i) => i === 1)).toHaveLength(3);
    expect(picks.filter((i) => i === 2)).toHaveLength(3);
  });
});

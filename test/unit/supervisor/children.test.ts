// The child registry's count of what is missing: the slots a new child fills, lowest first,
// skipping those held by a live child of their own (a replacement holds none until done).
import { describe, expect, it } from 'vitest';
import type { ChildHandle, ChildState } from '../../../src/supervisor/child.ts';
import { ChildRegistry } from '../../../src/supervisor/children.ts';

type Fake = [slot: number, state: ChildState, isReplacement?: boolean];

function registry(children: Fake[]): ChildRegistry {
  const r = new ChildRegistry();
  children.forEach(([slot, state, isReplacement = false], id) => r.add({ id, slot, state, isReplacement } as ChildHandle));
  return r;
}

describe('ChildRegistry.missingSlots', () => {
  it.each<[string, Fake[], number, number[]]>([
    ['an empty node', [], 3, [0, 1, 2]],
    ['every slot held', [[0, 'ready'], [1, 'starting']], 2, []],
    ['a gap is filled first', [[0, 'ready'], [2, 'ready']], 3, [1]],
    ['draining and exited children hold no slot', [[0, 'draining'], [1, 'exited'], [2, 'ready']], 3, [0, 1]],
    ['a replacement holds no slot of its own', [[0, 'ready'], [0, 'starting', true]], 2, [1]],
    ['more children than desired: nothing missing', [[0, 'ready'], [1, 'ready'], [2, 'ready']], 1, []],
  ])('%s', (_, children, desired, missing) => {
    expect(registry(children).missingSlots(desired)).toEqual(missing);
  });

  it('counts children by state', () => {
    const r = registry([[0, 'ready'], [1, 'ready'], [2, 'starting'], [3, 'draining']]);
    expect([r.count('ready'), r.count('starting'), r.count('draining'), r.size]).toEqual([2, 1, 1, 4]);
  });
});

import { describe, expect, it } from 'vitest';
import { pickVictim, type VictimCandidate } from '../../../src/autoscaler/index.ts';

const child = (id: string, c: Partial<VictimCandidate<string>> = {}): VictimCandidate<string> => ({
  id, runningTasks: 0, inflightRequests: 0, connections: 0, ageS: 600, draining: false, ...c,
});

describe('pickVictim', () => {
  it.each([
    {
      name: 'an already-draining child first, however busy',
      children: [child('a'), child('b', { draining: true, runningTasks: 9 }), child('c')],
      id: 'b', why: 'already draining',
    },
    {
      name: 'among draining children, the least busy',
      children: [child('a', { draining: true, runningTasks: 3 }), child('b', { draining: true, runningTasks: 1 }), child('c')],
      id: 'b', why: 'already draining; fewest running tasks (1)',
    },
    {
      name: 'the fewest running tasks',
      children: [child('a', { runningTasks: 4 }), child('b', { runningTasks: 0, inflightRequests: 50 }), child('c', { runningTasks: 2 })],
      id: 'b', why: 'fewest running tasks (0)',
    },
    {
      name: 'tied on tasks: the fewest in-flight requests',
      children: [child('a', { runningTasks: 1, inflightRequests: 3 }), child('b', { runningTasks: 1, inflightRequests: 1 }), child('c', { runningTasks: 5 })],
      id: 'b', why: 'fewest running tasks (1); fewest in-flight requests (1)',
    },
    {
      name: 'tied on tasks and requests: the fewest connections',
      children: [child('a', { connections: 7 }), child('b', { connections: 2 })],
      id: 'b', why: 'fewest connections (2)',
    },
    {
      name: 'equally idle: the youngest',
      children: [child('a', { ageS: 3600 }), child('b', { ageS: 42 }), child('c', { ageS: 900 })],
      id: 'b', why: 'youngest (42 s old)',
    },
    {
      name: 'equal in everything: the first listed',
      children: [child('a'), child('b')],
      id: 'a', why: 'all equal; first listed',
    },
    { name: 'a single child', children: [child('a', { runningTasks: 3 })], id: 'a', why: 'only child' },
  ])('$name', ({ children, id, why }) => {
    expect(pickVictim(children)).toEqual({ id, why });
  });

  it('has no victim among no children', () => {
    expect(pickVictim([])).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { decide, emptyHistory, type Signals } from '../../../src/autoscaler/index.ts';
import { policy, signals } from './sim.ts';
import { fleetSignals, shareOf, type FleetPeer, type FleetView } from '../../../src/autoscaler/fleet.ts';

const peer = (id: string, maxChildren: number, extra: Partial<FleetPeer> = {}): FleetPeer => ({ id, children: 0, running: 0, maxChildren, draining: false, ...extra });
const view = (self: string, selfMax: number, peers: FleetPeer[]): FleetView => ({ self, selfMax, peers });

describe('shareOf: the fleet need split over nodes by capacity', () => {
  it.each([
    // need, self, selfMax, peers, this node's share
    [6, 'b', 4, [peer('a', 4), peer('c', 4)], 2],
    [7, 'a', 4, [peer('b', 4), peer('c', 4)], 3], // remainder to the first by id
    [7, 'c', 4, [peer('a', 4), peer('b', 4)], 2],
    [1, 'a', 4, [peer('b', 4)], 1],
    [1, 'b', 4, [peer('a', 4)], 0],
    [0, 'a', 4, [peer('b', 4)], 0],
    [9, 'big', 8, [peer('small', 1)], 8], // proportional (8/9) with the small one capped at 1
    [9, 'small', 1, [peer('big', 8)], 1],
    [12, 'a', 2, [peer('b', 8)], 2], // more than the fleet can run: each at its max
    [12, 'b', 8, [peer('a', 2)], 8],
    [5, 'a', 2, [peer('b', 10)], 1], // 5 × 2/12 = 0.83 → the largest fraction gets the last one
    [4, 'a', 4, [peer('b', 4, { draining: true })], 4], // a draining node takes no share
    [3, 'a', 4, [], 3], // alone
    [10, 'a', 4, [], 4],
  ] as const)('need %i, node %s (max %i) with %j → %i', (need, self, selfMax, peers, share) => {
    expect(shareOf(need, view(self, selfMax, [...peers]))).toBe(share);
  });

  it('the shares of every node add up to the need (within what the fleet can run)', () => {
    const maxes: Record<string, number> = { a: 3, b: 5, c: 1, d: 7 };
    for (let need = 0; need <= 20; need++) {
      let total = 0;
      for (const self of Object.keys(maxes)) {
        const peers = Object.entries(maxes).filter(([id]) => id !== self).map(([id, m]) => peer(id, m));
        const share = shareOf(need, view(self, maxes[self]!, peers));
        expect(share).toBeLessThanOrEqual(maxes[self]!);
        total += share;
      }
      expect(total).toBe(Math.min(need, 16));
    }
  });
});

describe('fleet-aware decide', () => {
  // Windows of 0 show the raw control law; only the slots and backlog metrics speak here.
  const p = policy({ scale_up_window: 0, scale_down_window: 0, max_children: 4, target_queue_wait: 0 });
  const local: Signals = signals({ children: 1, runningTasks: 7, queueDepth: 49, oldestWaitS: 3 });

  it('alone, the node sizes itself for the whole backlog', () => {
    // (7 + 49) / (10 × 0.7) = 8 → capped by max_children 4
    expect(decide(emptyHistory(), local, p, 0).decision.desired).toBe(4);
  });

  it('with a second node as busy as this one, the need is split: no two-fold overshoot', () => {
    const fleet = view('a', 4, [peer('b', 4, { children: 1, running: 7 })]);
    expect(fleetSignals(local, fleet)).toMatchObject({ children: 2, runningTasks: 14, queueDepth: 49 });
    // (14 + 49) / 7 = 9 children for the fleet; capped at 4 + 4 = 8, 4 each
    const d = decide(emptyHistory(), { ...local, fleet }, p, 0).decision;
    expect(d.desired).toBe(4);
    expect(d.reason).toMatch(/fleet of 2 nodes needs 9; this node's share 4/);
    // A smaller backlog: (14 + 7) / 7 = 3 for the fleet → 2 on a (first by id), 1 on b.
    const small = { ...local, queueDepth: 7, fleet };
    expect(decide(emptyHistory(), small, p, 0).decision.desired).toBe(2);
    expect(decide(emptyHistory(), { ...small, fleet: view('b', 4, [peer('a', 4, { children: 1, running: 7 })]) }, p, 0).decision.desired).toBe(1);
  });

  it('a node that left shifts its share to the others', () => {
    const withPeer = { ...local, queueDepth: 21, fleet: view('b', 4, [peer('a', 4, { children: 2, running: 7 })]) };
    // (14 + 21) / 7 = 5 for the fleet... split 3 (a) + 2 (b)
    expect(decide(emptyHistory(), withPeer, p, 0).decision.desired).toBe(2);
    // a expired from the registry: b alone needs (7 + 21) / 7 = 4
    expect(decide(emptyHistory(), { ...withPeer, fleet: view('b', 4, []) }, p, 0).decision.desired).toBe(4);
  });
});

// Fleet-aware sizing. With a shared queue every node sees the same backlog; a node that sized
// itself for all of it would make N nodes fork N times what is needed. So each node measures
// the fleet as if it were one node (the shared queue, every node's children and running
// tasks from the registry), asks the usual metrics how many children that fleet needs, and
// takes its share: the need split over the nodes not draining in proportion to what each may
// run (its max_children), each capped at its max, the remainder going to the largest
// fractions (ties by node id). Every node computes the same split from the same registry, so
// the shares add up to the need without the nodes talking to each other.
import type { Reading, Readings } from './metrics.ts';
import type { FleetView, Signals } from './types.ts';

export type { FleetPeer, FleetView } from './types.ts';

/** The signals of the whole fleet as one node: queue figures are already shared; counts are summed. */
export function fleetSignals(local: Signals, fleet: FleetView): Signals {
  const others = fleet.peers;
  return {
    ...local,
    children: local.children + others.reduce((n, p) => n + p.children, 0),
    runningTasks: local.runningTasks + others.reduce((n, p) => n + p.running, 0),
  };
}

/** This node's part of `need` children for the fleet (see the top of this file). */
export function shareOf(need: number, fleet: FleetView): number {
  const nodes = [
    { id: fleet.self, max: fleet.selfMax },
    ...fleet.peers.filter((p) => !p.draining).map((p) => ({ id: p.id, max: p.maxChildren })),
  ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const given = new Map(nodes.map((n) => [n.id, 0]));
  let left = Math.max(0, need);
  // Water-filling: each round splits what is left over the nodes with room, by capacity.
  for (let open = nodes.filter((n) => n.max > 0); left > 0 && open.length > 0; open = open.filter((n) => given.get(n.id)! < n.max)) {
    const capacity = open.reduce((c, n) => c + n.max, 0);
    const parts = open.map((n) => {
      const exact = (left * n.max) / capacity;
      const room = n.max - given.get(n.id)!;
      return { n, whole: Math.min(room, Math.floor(exact)), frac: exact - Math.floor(exact), room };
    });
    let handed = parts.reduce((s, p) => s + p.whole, 0);
    for (const p of parts) given.set(p.n.id, given.get(p.n.id)! + p.whole);
    // One more each to the largest fractions (stable sort: ties stay in id order) while room and need last.
    for (const p of [...parts].sort((a, b) => b.frac - a.frac)) {
      if (handed >= left) break;
      if (p.whole < p.room && p.frac > 0) {
        given.set(p.n.id, given.get(p.n.id)! + 1);
        handed++;
      }
    }
    if (handed === 0) break;
    left -= handed;
  }
  return given.get(fleet.self) ?? 0;
}

/** Readings taken on fleetSignals, each turned from the fleet's need into this node's share. */
export function shareReadings({ readings, missing }: Readings, fleet: FleetView): Readings {
  const nodes = 1 + fleet.peers.filter((p) => !p.draining).length;
  return {
    missing,
    readings: readings.map((r): Reading => {
      const share = shareOf(r.desired, fleet);
      return { ...r, desired: share, text: `${r.text} (fleet of ${nodes} nodes needs ${r.desired}; this node's share ${share})` };
    }),
  };
}

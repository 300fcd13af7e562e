import { leastLoad } from './least-load.ts';
import { roundRobin } from './round-robin.ts';
import type { Strategy } from './strategy.ts';

export type StrategyName = 'least-load' | 'round-robin';

export function createStrategy(name: StrategyName): Strategy {
  return name === 'round-robin' ? roundRobin() : leastLoad();
}

export { Balancer, type BalancerStats } from './balancer.ts';
export { IdleConnections } from './idle.ts';
export { PublicSocket, ListenError, detachHandle, type ClientHandle, type ListenHandle } from './listen.ts';
export type { Strategy, Target } from './strategy.ts';

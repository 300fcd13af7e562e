export { Balancer, type BalancerStats } from './balancer.ts';
export { IdleConnections } from './idle.ts';
export { PublicSocket, ListenError, detachHandle, type ClientHandle, type ListenHandle } from './listen.ts';
export type { Target } from './target.ts';

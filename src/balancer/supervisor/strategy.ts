import type { Socket } from 'node:net';

/** A child as the balancer sees it. The supervisor's ChildHandle implements it. */
export interface Target {
  readonly id: number;
  /** Requests being answered (busy) at which the child takes no new connection. */
  readonly target: number;
  /** Estimated load: open connections + in-flight requests as last reported, plus two for each handoff since (a connection and its request). Children are compared by it. */
  load(): number;
  /** Estimated requests being answered, event streams left out, plus one for each handoff since: what fills a child up to its target. */
  busy(): number;
  /** Ready and not draining. */
  accepts(): boolean;
  /** Every connection handed over has been reported received: its event loop is not stuck. */
  settled(): boolean;
  /** Sends the socket (with the bytes already read from it, if any); `done(err)` when it was written to the channel or could not be. */
  handoff(socket: Socket, head: Buffer | undefined, done: (err: Error | null) => void): void;
}

/**
 * Chooses the child for the next connection among those that accept and are under their
 * target, or none (the connection then waits in the supervisor). Like node:cluster's
 * round_robin_handle / shared_handle: one small surface, chosen by config.
 */
export interface Strategy {
  readonly name: string;
  pick(targets: readonly Target[]): Target | undefined;
}

export function hasRoom(t: Target): boolean {
  return t.accepts() && t.busy() < t.target;
}

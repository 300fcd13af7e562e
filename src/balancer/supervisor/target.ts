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
  /** Heard from lately (see isHeard): its event loop turns. */
  heard(): boolean;
  /** Heard from, and every connection handed over has been reported received: its event loop is not stuck. */
  settled(): boolean;
  /** Sends the socket (with the bytes already read from it, if any); `done(err)` when it was written to the channel or could not be. */
  handoff(socket: Socket, head: Buffer | undefined, done: (err: Error | null) => void): void;
}

export function hasRoom(t: Target): boolean {
  return t.accepts() && t.busy() < t.target;
}

/**
 * Heard from within two heartbeats. A child also accepts connections from the shared socket
 * itself, which the supervisor learns of only from its next report; one whose handler holds its
 * loop at once never sends it, and would look idle. Its heartbeat stops with it, so silence past
 * two beats (a loaded child reports far more often) is taken as a held loop.
 */
export function isHeard(silentMs: number, heartbeatMs: number): boolean {
  return silentMs <= 2 * heartbeatMs;
}

/** Heard from, and has taken everything handed to it (`sent` = reported `received`). */
export function isSettled(sent: number, received: number, silentMs: number, heartbeatMs: number): boolean {
  return sent === received && isHeard(silentMs, heartbeatMs);
}

// Every message between the supervisor and a child, in one place, so the whole protocol can be
// read at a glance. Each carries one discriminating field, `t`. The schemas are the types
// (Static) and the runtime checks (compiled once): a message that fails its check is dropped
// where it arrives, as prom-client's own messages on the same channel are. Which messages carry
// a socket handle, and which handle, is in ChildHandles / SupervisorHandles, and the typed send
// functions take exactly that handle.
import type { Socket } from 'node:net';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { ClientHandle, ListenHandle } from './handles.ts';

export type { ClientHandle, ListenHandle } from './handles.ts';

/** The accept limit while children's loads are close: no limit (JSON has no Infinity). */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

const Count = Type.Integer({ minimum: 0 });
const Seconds = Type.Number({ minimum: 0 });
const Limit = Type.Integer({ minimum: 0, maximum: NO_LIMIT });
const Msg = <T extends string, P extends Record<string, TSchema>>(t: T, props: P) => Type.Object({ t: Type.Literal(t), ...props });

const IdleOnDrainSchema = Type.Union([Type.Literal('return'), Type.Literal('expire'), Type.Literal('close')]);
export type IdleOnDrain = Static<typeof IdleOnDrainSchema>;

/** What a child reports about itself, on every heartbeat and whenever it frees a full slot. */
const LoadReportSchema = Type.Object({
  /**
   * Connections handed to this child so far; the supervisor compares it with what it sent. One
   * that brought the start of a request (`conn` with `head`) counts once the child's event loop
   * has turned after that request started.
   */
  received: Count,
  /** Open connections. */
  connections: Count,
  /** HTTP requests being served. */
  inflight: Count,
  /** Of those, answers that are event streams under way: they wait on the network and leave the child free. */
  streams: Type.Optional(Count),
  /** Agent tasks running in the executor pool. */
  runningTasks: Count,
  /** Task slots of the executor pool (threads × tasks per thread). */
  taskSlots: Count,
  /** Requests finished since the child started. */
  requests: Count,
  /** True while this child accepts from the shared socket. */
  listening: Type.Optional(Type.Boolean()),
  /** Resident set size in bytes. */
  rss: Count,
  /** Event-loop delay p99 over the last interval, in seconds. */
  eventLoopLag: Seconds,
  /** HTTP request duration p95 over the last interval, in seconds (absent with no requests). */
  httpP95: Type.Optional(Seconds),
  /** Queue wait p95 of the tasks this child claimed over the last interval, in seconds (0 when none). */
  queueWaitP95: Type.Optional(Seconds),
  /** True once the child stopped claiming tasks and is finishing what it has. */
  draining: Type.Boolean(),
});
export type LoadReport = Static<typeof LoadReportSchema>;

const ChildMessageSchema = Type.Union([
  Msg('ready', {}),
  Type.Composite([Msg('load', {}), LoadReportSchema]),
  /** The child cannot start (bad agent module, bad config): the reason, before it exits. */
  Msg('boot-failed', { message: Type.String() }),
  /** Asks for the shared listening socket: at boot, and when the load is back under the limit. */
  Msg('want-listen', {}),
  /** A connection this child accepted and will not serve (at its limit, or stopping). Carries its handle. */
  Msg('back', {}),
  /**
   * A keep-alive connection idle between requests (carries its handle): the supervisor waits for
   * its next request and gives it to a free child, quick routes first.
   */
  Msg('idle', {}),
  /** Answer to `unlisten`: this child no longer accepts from the shared socket. */
  Msg('unlistened', {}),
  /** Answer to `lend`: carries a copy of the listening socket (none if this child has none). */
  Msg('lent', {}),
  /** Answer to `metrics`: the child's registry as prom-client JSON (getMetricsAsJSON). */
  Msg('metrics', { id: Count, metrics: Type.Array(Type.Unknown()) }),
]);
export type ChildMessage = Static<typeof ChildMessageSchema>;

const SupervisorMessageSchema = Type.Union([
  /**
   * A connection (carries its socket). `head` (base64) is what the supervisor read from it
   * before handing it over: the start of the next request on a connection that was idle.
   */
  Msg('conn', { head: Type.Optional(Type.String()) }),
  /**
   * Answer to `want-listen` (carries the shared listening socket, or none while the supervisor
   * accepts every connection itself). The child accepts while its load < limit (NO_LIMIT while
   * loads are close) and its requests being answered < balancer.child_target; `spread` says
   * other children accept too (so it caps how fast its load may grow between reports).
   */
  Msg('listen', { limit: Limit, spread: Type.Boolean() }),
  /** A new limit (the supervisor steering connections toward less-loaded children). */
  Msg('limit', { limit: Limit, spread: Type.Boolean() }),
  /** Stop accepting from the shared socket now, and say so (the supervisor is stopping). */
  Msg('unlisten', {}),
  /** Send a copy of your listening socket (the supervisor keeps it and stops accepting itself). */
  Msg('lend', {}),
  /**
   * Take no new work, finish in-flight requests and tasks by the deadline, then exit 0.
   * `idle` says what becomes of keep-alive connections idle between requests: `return` them to
   * the supervisor, which gives their next request to another child (reload, scale-down,
   * replacement: the node keeps serving); `expire` them at the keep-alive timeout (the whole
   * node drains); `close` them now (drover stops).
   */
  Msg('drain', { deadlineMs: Count, reason: Type.String(), idle: IdleOnDrainSchema }),
  /** Send your metrics (a scrape of /metrics on the admin port). */
  Msg('metrics', { id: Count }),
]);
export type SupervisorMessage = Static<typeof SupervisorMessageSchema>;

/** The handle each child → supervisor message carries; messages not named here carry none. */
export interface ChildHandles {
  back: ClientHandle;
  idle: ClientHandle;
  lent: ListenHandle | undefined;
}

/** The handle each supervisor → child message carries; messages not named here carry none. */
export interface SupervisorHandles {
  /** Undefined when the connection closed while it travelled. */
  conn: Socket | undefined;
  listen: ListenHandle | undefined;
}

/** `[handle]` for a message that carries one, `[]` for one that does not: send(msg, ...handleOf<M>). */
export type HandleArg<M extends { t: string }, H> = M['t'] extends keyof H ? [handle: H[M['t']]] : [];

const childCheck = TypeCompiler.Compile(ChildMessageSchema);
const supervisorCheck = TypeCompiler.Compile(SupervisorMessageSchema);

/** The message if it is one of ours and well formed; undefined otherwise (prom-client's, or malformed). */
export function asChildMessage(m: unknown): ChildMessage | undefined {
  return childCheck.Check(m) ? m : undefined;
}

export function asSupervisorMessage(m: unknown): SupervisorMessage | undefined {
  return supervisorCheck.Check(m) ? m : undefined;
}

// The Store contract: everything drover keeps durably (tasks, progress events, session
// history, rate-limit state, the tool-result cache). Backend-neutral on purpose: the SQLite
// backend (one VM) and the Redis backend (several VMs) implement it and pass the same
// conformance suite (test/conformance/store.ts). Every method returns a Promise even where
// the backend is synchronous. Times are milliseconds since the epoch; payloads (input,
// result, events, messages, tool results) are JSON values.
import type { MessagePort } from 'node:worker_threads';

/** `queued` also covers a task waiting for its retry time (`runAt` in the future). */
export type TaskStatus = 'queued' | 'running' | 'cancelling' | 'succeeded' | 'dead' | 'cancelled';

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'dead', 'cancelled'];

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export type TaskKind = 'task' | 'turn';

export interface TaskError {
  code: string;
  message: string;
}

/** One run of a task: `error` is why it failed (null while it runs, when it succeeded, or when
 * a cancel ended it without one). */
export interface TaskAttempt {
  n: number;
  error: TaskError | null;
  startedAt: number;
  finishedAt: number | null;
}

export interface Task {
  /** Opaque; ids of one store sort by creation time. */
  id: string;
  tenant: string;
  kind: TaskKind;
  sessionId: string | null;
  status: TaskStatus;
  /** Higher runs first; an integer in -1000..1000 (INVALID_ARGUMENT outside). */
  priority: number;
  input: unknown;
  result: unknown;
  /** The failure the task ended with, or the last one while it will run again; null once an
   * attempt succeeded (earlier failures are in `attempts`). */
  error: TaskError | null;
  /** Number of the current or last run; 0 before the first claim. */
  attempt: number;
  /** Every run so far, oldest first (a run given back on drain is not one). */
  attempts: TaskAttempt[];
  maxAttempts: number;
  timeoutMs: number;
  idempotencyKey: string | null;
  /** The worker holding (or last holding) the lease. */
  worker: string | null;
  leaseUntil: number | null;
  createdAt: number;
  updatedAt: number;
  /** Earliest time a queued task may be claimed (now, or after a retry backoff). */
  runAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** A task a worker holds: its id and the fence of the claim that holds it (Store.heldBy). */
export interface HeldTask {
  id: string;
  fence: number;
}

/** A task handed to a worker. `fence` grows on every claim of the task; every write the
 * worker makes for it (renew, complete, fail, release, session append) carries it, and a
 * write whose fence is no longer current changes nothing. */
export interface ClaimedTask extends Task {
  fence: number;
}

export interface EnqueueRequest {
  tenant: string;
  input: unknown;
  priority?: number;
  /** Same (tenant, key) within the result TTL returns the existing task. */
  idempotencyKey?: string;
  /** With idempotencyKey: what identifies the request (the API hashes its body). A later
   * enqueue with the same key and another hash throws StoreError IDEMPOTENCY_MISMATCH; when
   * either side has none, the existing task is returned. */
  requestHash?: string;
  maxAttempts: number;
  timeoutMs: number;
  sessionId?: string;
  /** `turn` = one message of a session; requires sessionId. */
  kind?: TaskKind;
}

export interface ClaimRequest {
  worker: string;
  n: number;
  leaseMs: number;
}

/** `cancelling`: the lease is renewed, but the task was cancelled and the worker should abort. */
export type RenewResult = 'renewed' | 'cancelling' | 'lost';

export interface FailOptions {
  retryable: boolean;
  /** Delay before the retry may be claimed (ignored when the task is dead-lettered). */
  retryDelayMs: number;
}

/** `cancelled`: the task was being cancelled, so the failure ends it without a retry. */
export type FailResult = 'retrying' | 'dead' | 'cancelled' | 'stale';

export interface ListOptions {
  status?: TaskStatus;
  limit: number;
  /** A task id: only tasks created before it (the next page of a newest-first listing). */
  before?: string;
}

/** One progress event. `final` marks the event the store publishes itself when the task
 * reaches a terminal status; nothing follows it. */
export interface TaskEvent {
  seq: number;
  event: unknown;
  final: boolean;
}

/** What the store publishes itself on every status change after enqueue: `running` on a
 * claim, `cancelling`, `queued` when the task will run again (after a failure, an expired
 * lease or a release), and one final event with the terminal status. */
export interface StatusEvent {
  type: 'status';
  status: TaskStatus;
  attempt: number;
  /** On `succeeded`. */
  result?: unknown;
  /** The failure that caused this change, if one did. */
  error?: TaskError;
  /** On `queued`: when it may run again. */
  runAt?: number;
}

export type Unsubscribe = () => void;
/** Why a subscription stopped before its final event (for logs). */
export type SubscriptionEnd = (reason: string) => void;

export interface Session {
  tenant: string;
  id: string;
  messages: unknown[];
  createdAt: number;
  updatedAt: number;
  /** Refreshed by every append. */
  expiresAt: number;
}

/** The turn appending to a session: its task id and fence. */
export interface SessionWriter {
  taskId: string;
  fence: number;
}

export interface RateLimit {
  ratePerSec: number;
  burst: number;
}

export interface RateLimitResult {
  allowed: boolean;
  /** Requests still allowed right now. */
  remaining: number;
  /** 0 when allowed; else the wait before a request would be allowed. */
  retryAfterMs: number;
  /** Time until the bucket is full again. */
  resetMs: number;
}

/** Several requests taken at once: the first `taken` were allowed; the result is the decision on
 * the last allowed one, or on the first refused one. */
export interface RateLimitTaken extends RateLimitResult {
  taken: number;
}

export type ToolClaim =
  | { state: 'done'; result: unknown }
  | { state: 'claimed' }
  /** Another owner runs it; ask again after a while (at most leaseRemainingMs). */
  | { state: 'pending'; leaseRemainingMs: number };

export interface StoreStats {
  /** Queued tasks that may run now, by priority. */
  depthByPriority: Record<number, number>;
  /** All queued tasks, including those waiting for a retry time. */
  queued: number;
  /** Queued tasks waiting for a retry time. */
  delayed: number;
  /** Longest wait among tasks that may run now (0 when none). */
  oldestWaitMs: number;
  /** Running and cancelling tasks. */
  running: number;
  dead: number;
  /** Succeeded tasks still kept (until store.result_ttl); absent when none, or when a backend does not count them. */
  succeeded?: number;
}

/** One tenant's share of the queue, for the status page. */
export interface TenantBacklog {
  tenant: string;
  /** All its queued tasks, including those waiting for a retry time. */
  queued: number;
  /** Its running and cancelling tasks. */
  running: number;
}

export interface CleanupResult {
  tasks: number;
  sessions: number;
}

export interface Store {
  /** Throws StoreError QUEUE_FULL when queueLimit tasks are queued already, and
   * IDEMPOTENCY_MISMATCH when the key was first used with another requestHash. */
  enqueue(req: EnqueueRequest): Promise<{ task: Task; created: boolean }>;
  /** Reaps expired leases first, then claims up to n tasks that may run now, highest
   * priority first, then oldest. Tasks of one session run one at a time, in order. */
  claim(req: ClaimRequest): Promise<ClaimedTask[]>;
  /** Extends the lease to now + leaseMs. A lease that ran out but was not reaped yet is
   * still the holder's; once reaped or claimed again, the answer is `lost`. */
  renew(taskId: string, fence: number, leaseMs: number): Promise<RenewResult>;
  complete(taskId: string, fence: number, result: unknown): Promise<boolean>;
  /** Optional: complete, then claim as `next` asks, atomically and in one call, so a busy
   * slot needs one round trip per task (callers without it call complete, then claim). */
  completeAndClaim?(taskId: string, fence: number, result: unknown, next: ClaimRequest): Promise<{ completed: boolean; claimed: ClaimedTask[] }>;
  fail(taskId: string, fence: number, error: TaskError, opts: FailOptions): Promise<FailResult>;
  /** Gives a running task back to the queue at once without counting the attempt (drain). */
  release(taskId: string, fence: number): Promise<boolean>;
  /** The tasks `worker` holds now (running or cancelling), with their fences. A claim whose
   * answer was lost (the connection dropped after the store ran it) leaves tasks held that
   * their worker does not know of; it finds them here and releases them instead of leaving
   * them to their leases. Reads every running task's row: for that rare case, not a loop. */
  heldBy(worker: string): Promise<HeldTask[]>;
  /** queued → cancelled; running → cancelling (the worker learns it through renew or the
   * `cancelling` status event). Returns the task as it is now, or null if not found. */
  cancel(tenant: string, id: string): Promise<Task | null>;
  /** Calls `listener` with the id of every task asked to cancel while it runs (running →
   * cancelling), by any process, soon after the cancel (well under a second). A notice is a
   * hint to act now: renew() is the authority on the task's state. */
  onCancel(listener: (taskId: string) => void): Unsubscribe;
  /** Expired leases: back to the queue (the attempt counts), or dead after maxAttempts,
   * or cancelled when cancelling. Returns how many tasks changed. */
  reapExpired(now?: number): Promise<number>;

  get(tenant: string, id: string): Promise<Task | null>;
  /** Newest first. */
  list(tenant: string, opts: ListOptions): Promise<Task[]>;

  /** Appends a progress event from the attempt holding `fence` (the claim's); returns its
   * seq (1, 2, … per task), or null when the event is dropped: the task is unknown or
   * finished, or that claim no longer holds it (reaped, released, claimed again), so an
   * attempt whose lease was taken over adds nothing to its successor's events. The store's
   * own status events are not published through this. */
  publish(taskId: string, fence: number, event: unknown): Promise<number | null>;
  /** Stored events after afterSeq in order, at most limit (default 1000). */
  events(taskId: string, afterSeq: number, limit?: number): Promise<TaskEvent[]>;
  /** Delivers the events after afterSeq in order, stored ones first, then new ones from any
   * process. Delivery is never synchronous within this call, and ends after the final event.
   * A subscription the store can no longer serve (store closed, listening failed, connection
   * given up) calls `onEnd` once instead of going silent: the caller ends its stream or
   * subscribes again after the last seq it got. Neither unsubscribing nor the final event
   * calls it. */
  subscribe(taskId: string, afterSeq: number, onEvent: (event: TaskEvent) => void, onEnd?: SubscriptionEnd): Unsubscribe;

  /** null when the session does not exist or has expired. */
  sessionGet(tenant: string, id: string): Promise<Session | null>;
  /** Creates the session if needed. With a writer, throws StoreError STALE_FENCE unless that
   * turn of this session still holds its claim. */
  sessionAppend(tenant: string, id: string, messages: unknown[], writer?: SessionWriter): Promise<Session>;
  sessionDelete(tenant: string, id: string): Promise<boolean>;

  /** Takes `count` requests (default 1) from the key's bucket (GCRA), one after another and
   * atomically across processes: the same decisions as that many calls in a row. */
  rateLimitTake(key: string, limit: RateLimit, now?: number, count?: number): Promise<RateLimitTaken>;

  /** First caller for (taskId, key) gets `claimed` and must toolPut; the same owner claiming
   * again, or anyone after the owner's lease expired, gets `claimed` too. */
  toolClaim(taskId: string, key: string, owner: string, leaseMs: number): Promise<ToolClaim>;
  /** Records the result; false (nothing written) unless owner holds the claim. */
  toolPut(taskId: string, key: string, owner: string, result: unknown): Promise<boolean>;
  toolGet(taskId: string, key: string): Promise<{ result: unknown } | null>;

  /** Optional: waits until a task may have become claimable (enqueued, requeued, a retry
   * came due during a claim), or timeoutMs passed; a backend that cannot block leaves it out
   * and callers poll. Resolves true when woken; a wake-up is a hint, the claim may find
   * nothing. Tasks whose retry time comes while nobody claims wake nobody: pass a timeout. */
  waitForWork?(timeoutMs: number): Promise<boolean>;

  stats(): Promise<StoreStats>;
  /** The `limit` tenants with the most queued tasks (then most running, then by name), leaving
   * out tenants with none of either. Apart from stats() so the autoscaler's read stays as cheap. */
  backlogByTenant(limit: number): Promise<TenantBacklog[]>;
  /** Removes finished tasks (with their events and tool results) older than resultTtlMs,
   * expired sessions and idle rate-limit state. */
  cleanup(now?: number): Promise<CleanupResult>;
  /** Why the store cannot serve right now (a damaged file, a failing disk, a lost
   * connection), or null; readiness answers 503 while it is set. */
  fault(): string | null;
  close(): Promise<void>;
  /**
   * Only where the store's writes run on a thread of their own (SQLite, as a child opens it).
   * Takes one end of a MessageChannel on which another thread of this process (an executor)
   * sends its tool-cache and progress writes straight to that thread, and gets their answers
   * there: each store round trip of a running task is then two hops between threads instead
   * of four, and this thread relays none of them.
   */
  connectPort?(port: MessagePort): void;
}

/** The writes a connected port may carry (Store.connectPort), as Store methods of those names. */
export const PORT_WRITES = ['toolClaim', 'toolPut', 'publish'] as const;
export type PortWrite = (typeof PORT_WRITES)[number];

/** What goes over a connected port, the calls of one turn in one message each way. */
export interface PortCall {
  id: number;
  name: PortWrite;
  args: unknown[];
}

export type PortAnswer =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code?: string; message: string } };

export type Clock = () => number;

/** What every backend is opened with, beside its own connection settings. */
export interface StoreOptions {
  queueLimit: number;
  resultTtlMs: number;
  sessionTtlMs: number;
  clock?: Clock;
}

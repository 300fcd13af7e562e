// What crosses between a child's main thread and its executor threads, in one place. Tasks go
// out through piscina and their outcomes come back the same way. Everything else is small
// messages: a thread's store calls (tool cache, progress) go over a channel of its own to the
// store's thread where there is one (it offers the other end on its parentPort at start), else
// as requests on its parentPort (piscina re-emits those as the pool's 'message' event) with the
// answers on a BroadcastChannel named after its threadId; cancellations go to every thread on
// one BroadcastChannel, and the thread running that task aborts it.
import type { MessagePort } from 'node:worker_threads';
import type { ChatMessage } from '../agent/types.ts';
import type { ProviderConfig } from '../config/schema.ts';
import type { TaskError } from '../store/types.ts';
import type { LogFormat } from '../log.ts';

/** Given to every thread once (piscina `workerData`). */
export interface ThreadConfig {
  /** Absolute path of the agent module. */
  agentFile: string;
  /** Providers with every base_url filled in (the child's mock included) and limits per thread. */
  providers: Record<string, ProviderConfig>;
  defaultProvider: string;
  /** Lease of a tool-cache claim; the running tool renews it every third. */
  toolLeaseMs: number;
  logLevel: string;
  logFormat?: LogFormat;
  childId: number;
  /** After its signal fired, an attempt whose agent has not returned is given up on after this. */
  abortGraceMs: number;
  /** The store takes a channel for the thread's calls (Store.connectPort). */
  storePort: boolean;
  /** How much the thread lowers its CPU priority below the child's event loop (a nice increment; default 0). */
  nice?: number;
}

/** One attempt of one task, handed to a thread. */
export interface Job {
  taskId: string;
  attempt: number;
  /** The claim's fence: progress events carry it, so a superseded attempt's are dropped. */
  fence: number;
  tenant: string;
  /** Owner of this attempt's tool-cache claims: changes with every claim of the task. */
  owner: string;
  input: unknown;
  timeoutMs: number;
  session?: { id: string; history: ChatMessage[] };
}

export type Outcome =
  | { ok: true; result: unknown }
  | { ok: false; error: TaskError; retryable: boolean; retryAfterMs?: number };

/** What the pool answers for an attempt: its outcome, or that the attempt was stopped by no
 * fault of its own (its thread was terminated for another attempt) and goes back to the queue. */
export type RunOutcome = Outcome | { released: true; reason: string };

export function isReleased(o: RunOutcome): o is { released: true; reason: string } {
  return 'released' in o;
}

/** Why the main thread aborts a running task. */
export type AbortReason = 'cancel' | 'lost' | 'drain';

export interface CancelMessage {
  /** The attempt's owner (Job.owner): unlike the task id, it names one attempt. */
  owner: string;
  reason: AbortReason;
}

export const CANCEL_CHANNEL = 'drover:executor:cancel';
export const replyChannel = (threadId: number): string => `drover:executor:reply:${threadId}`;

/** The store operations a thread may ask for. */
export type RpcCall =
  | { op: 'toolClaim'; args: [taskId: string, key: string, owner: string, leaseMs: number] }
  | { op: 'toolPut'; args: [taskId: string, key: string, owner: string, result: unknown] }
  | { op: 'publish'; args: [taskId: string, fence: number, event: unknown] };

/** The calls a thread made in one turn of its loop, in one message each way: a message costs
 * both threads several µs whatever it carries, and a thread runs thousands of tasks at once. */
export interface RpcRequests {
  rpc: 'drover';
  thread: number;
  calls: (RpcCall & { id: number })[];
}

export type RpcReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: TaskError };

/** A thread's end of a channel for its store calls, sent once at start, for Store.connectPort. */
export interface StorePortOffer {
  storePort: 'drover';
  thread: number;
  port: MessagePort;
}

export function isStorePortOffer(m: unknown): m is StorePortOffer {
  return typeof m === 'object' && m !== null && (m as { storePort?: unknown }).storePort === 'drover';
}

/** Sent by every thread every BEAT_MS: a thread that stops sending is stuck (a busy loop). */
export interface ThreadBeat {
  beat: 'drover';
  thread: number;
}

export const BEAT_MS = 500;

export function isThreadBeat(m: unknown): m is ThreadBeat {
  return typeof m === 'object' && m !== null && (m as { beat?: unknown }).beat === 'drover';
}

export function isRpcRequests(m: unknown): m is RpcRequests {
  return typeof m === 'object' && m !== null && (m as { rpc?: unknown }).rpc === 'drover';
}

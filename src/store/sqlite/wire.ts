// What the store thread (thread.ts) and the store that forwards to it (threaded.ts) send each
// other over the worker's port. Errors cross as plain data: a StoreError keeps its code.
import { StoreError, type StoreErrorCode } from '../errors.ts';
import type { MessagePort } from 'node:worker_threads';
import type { StoreOptions, TaskEvent } from '../types.ts';
import type { WriteName } from './writes.ts';

export interface ThreadInit {
  path: string;
  busyTimeoutMs: number;
  opts: Omit<Required<StoreOptions>, 'clock'>;
  /** How much the thread lowers its CPU priority below its process's event loop (a nice increment). */
  nice: number;
}

/** `now`: an injected clock's time when the caller called (tests), which the operation runs on;
 * without it the operation runs on the thread's clock when it runs. */
export interface Call {
  id: number;
  name: WriteName;
  args: unknown[];
  now?: number;
  /** Where the answer goes when the call came over a connected port (Store.connectPort);
   * set by the thread, never sent. */
  port?: MessagePort;
}

/** The calls made in one turn of the caller's loop travel in one message: a message costs both
 * threads several µs whatever it carries. */
export type ToThread =
  | { kind: 'calls'; calls: Call[] }
  /** A task this process has subscribers for (on) or no longer has (off): only such tasks'
   * events come back with the answers. An event committed before the thread heard of a new
   * subscriber is not lost: the subscriber's hub polls the events table while it has any. */
  | { kind: 'watch'; taskId: string; on: boolean }
  /** Another thread's end of a channel for its writes (Store.connectPort), transferred. */
  | { kind: 'port'; port: MessagePort }
  | { kind: 'close' };

export interface WireError {
  name: string;
  message: string;
  code?: StoreErrorCode;
}

export type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

export type FromThread =
  | { kind: 'ready' }
  /** One batch's answers, after its commit (or its failure), with the events it committed for
   * watched tasks (handed to subscribers before the answers) and the store's fault after it. */
  | { kind: 'answers'; answers: Answer[]; events: CommittedEvent[]; fault: string | null };

export interface CommittedEvent {
  taskId: string;
  event: TaskEvent;
}

export function toWire(err: unknown): WireError {
  if (err instanceof StoreError) return { name: err.name, message: err.message, code: err.code };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

export function fromWire(err: WireError): Error {
  if (err.code) return new StoreError(err.code, err.message);
  const e = new Error(err.message);
  e.name = err.name;
  return e;
}

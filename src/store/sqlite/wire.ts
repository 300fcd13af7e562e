// What the store thread (thread.ts) and the store that forwards to it (threaded.ts) send each
// other over the worker's port. Errors cross as plain data: a StoreError keeps its code.
import { StoreError, type StoreErrorCode } from '../errors.ts';
import type { StoreOptions, TaskEvent } from '../types.ts';
import type { WriteName } from './writes.ts';

export interface ThreadInit {
  path: string;
  busyTimeoutMs: number;
  opts: Omit<Required<StoreOptions>, 'clock'>;
}

/** `now`: an injected clock's time when the caller called (tests), which the operation runs on;
 * without it the operation runs on the thread's clock when it runs. */
export type ToThread = { kind: 'call'; id: number; name: WriteName; args: unknown[]; now?: number } | { kind: 'close' };

export interface WireError {
  name: string;
  message: string;
  code?: StoreErrorCode;
}

export type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

export type FromThread =
  | { kind: 'ready' }
  /** Committed events, sent before the answers of their batch. */
  | { kind: 'event'; taskId: string; event: TaskEvent }
  /** One batch's answers, after its commit (or its failure), with the store's fault after it. */
  | { kind: 'answers'; answers: Answer[]; fault: string | null };

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

// How a failed attempt is recorded: a stable `code` in the task's error, and whether another
// attempt may help. Agents choose for themselves by throwing an error with a string `code`
// and, to stop retries, `retryable: false`.
import { isLlmError } from '../agent/errors.ts';
import type { Outcome, AbortReason } from './protocol.ts';

export type ExecutorErrorCode =
  /** The attempt ran past its timeout (retried: the next attempt may be faster). */
  | 'TASK_TIMEOUT'
  /** A user cancelled the task. */
  | 'TASK_CANCELLED'
  /** drover stopped the attempt (lease lost, drain); it is never recorded as a failure. */
  | 'TASK_ABORTED'
  /** The agent threw something without a code of its own. */
  | 'AGENT_ERROR'
  /** The executor thread died under the task. */
  | 'AGENT_CRASHED'
  /** The agent called process.exit(): its attempt ends, its thread and neighbours carry on. */
  | 'AGENT_EXITED'
  /** The agent module cannot be loaded in the executor thread. */
  | 'AGENT_LOAD_FAILED'
  /** run() resolved with a value that is not JSON. */
  | 'RESULT_NOT_JSON'
  /** ctx.tool's function resolved with a value that is not JSON. */
  | 'TOOL_RESULT_NOT_JSON'
  /** ctx.progress was given a value that is not JSON. */
  | 'PROGRESS_NOT_JSON'
  /** A store operation failed in the main thread (ctx.tool, ctx.progress). */
  | 'STORE_ERROR';

export class ExecutorError extends Error {
  readonly code: ExecutorErrorCode | string;
  readonly retryable: boolean;

  constructor(code: ExecutorErrorCode | string, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExecutorError';
    this.code = code;
    this.retryable = retryable;
  }
}

/** Longest error message kept in a task record. */
const MAX_MESSAGE = 2000;

const ABORT_CODES: Record<AbortReason | 'timeout', [ExecutorErrorCode, boolean, string]> = {
  timeout: ['TASK_TIMEOUT', true, 'the attempt ran past its timeout'],
  cancel: ['TASK_CANCELLED', false, 'the task was cancelled'],
  lost: ['TASK_ABORTED', false, 'the task lease was lost'],
  drain: ['TASK_ABORTED', false, 'the child is draining'],
};

/** The reason a task's signal carries when it fires. */
export function abortError(reason: AbortReason | 'timeout'): ExecutorError {
  const [code, retryable, message] = ABORT_CODES[reason];
  return new ExecutorError(code, message, retryable);
}

/** The outcome of an attempt that threw `err`; `aborted` says why its signal fired, if it did. */
export function failureOutcome(err: unknown, aborted?: AbortReason | 'timeout'): Outcome {
  if (aborted) {
    const [code, retryable, message] = ABORT_CODES[aborted];
    return { ok: false, error: { code, message }, retryable };
  }
  if (isLlmError(err)) {
    const out: Outcome = { ok: false, error: { code: err.code, message: clip(err.message) }, retryable: err.transient };
    if (err.retryAfterMs !== undefined) out.retryAfterMs = err.retryAfterMs;
    return out;
  }
  if (err instanceof Error) {
    const { code, retryable } = err as { code?: unknown; retryable?: unknown };
    return {
      ok: false,
      error: { code: typeof code === 'string' && code ? code : 'AGENT_ERROR', message: clip(err.message || err.name) },
      retryable: retryable !== false,
    };
  }
  return { ok: false, error: { code: 'AGENT_ERROR', message: clip(`agent threw ${safeString(err)}`) }, retryable: true };
}

/** Throws an ExecutorError with `code` unless `value` can be written as JSON (what the store keeps). */
export function assertJson(value: unknown, code: ExecutorErrorCode, what: string): void {
  try {
    JSON.stringify(value);
  } catch (err) {
    throw new ExecutorError(code, `${what} is not JSON: ${(err as Error).message}`, false, { cause: err });
  }
}

/**
 * The result as the store will keep it (JSON), or RESULT_NOT_JSON. A function or symbol
 * anywhere in it counts as not JSON (JSON.stringify would drop it silently, and it cannot be
 * cloned to the main thread); undefined is null.
 */
export function assertResult(value: unknown): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(value, (key, v: unknown) => {
      if (typeof v === 'function' || typeof v === 'symbol') throw new TypeError(`${key ? `field ${JSON.stringify(key)}` : 'it'} is a ${typeof v}`);
      return v;
    });
  } catch (err) {
    throw new ExecutorError('RESULT_NOT_JSON', `the result is not JSON: ${(err as Error).message}`, false, { cause: err });
  }
  return json === undefined ? null : JSON.parse(json);
}

function clip(message: string): string {
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return typeof value;
  }
}

// Writes that must outlive a store outage. A running task's outcome, its session turn, its
// tool-cache calls and its progress events are retried while the store is unreachable
// (UNAVAILABLE) instead of being dropped: dropping one would run the whole task again once its
// lease ran out. Every such write is fenced or bound to a live task in the store, so a retry
// that arrives after the lease was taken over writes nothing (complete/fail/sessionAppend answer
// false/STALE_FENCE, toolPut false, publish null).
import { retryDelayMs, type BackoffOptions } from '../agent/llm/backoff.ts';
import { isStoreError } from '../store/errors.ts';

/** Short first retries (a failover takes a second or two), then every few seconds. */
export const OUTAGE_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 3_000 };

/** Only an unreachable store is worth waiting for; any other error is an answer. */
export function isOutage(err: unknown): boolean {
  return isStoreError(err, 'UNAVAILABLE');
}

export interface OutageRetryOptions {
  /** Stops retrying (drain deadline, pool closed): the last error is thrown. */
  signal: AbortSignal;
  /** Called before each wait, e.g. to log the first and every tenth retry. */
  onRetry?: (err: unknown, retry: number, delayMs: number) => void;
  random?: () => number;
}

/**
 * Calls `fn` until it does not fail with an outage, with backoff between calls. `opts` may be a
 * function that makes them: nearly every write answers the first time, and the options (and
 * the closures a caller's onRetry holds) are made only once one has not.
 */
export function untilStoreAnswers<T>(fn: () => Promise<T>, opts: OutageRetryOptions | (() => OutageRetryOptions)): Promise<T> {
  let first: Promise<T>;
  try {
    first = fn();
  } catch (err) {
    first = Promise.reject(err);
  }
  return first.catch((err: unknown) => retryThroughOutage(fn, typeof opts === 'function' ? opts() : opts, err));
}

async function retryThroughOutage<T>(fn: () => Promise<T>, opts: OutageRetryOptions, failure: unknown): Promise<T> {
  let err = failure;
  for (let retry = 1; ; retry++) {
    if (!isOutage(err) || opts.signal.aborted) throw err;
    const delay = retryDelayMs(retry, OUTAGE_BACKOFF, (opts.random ?? Math.random)());
    opts.onRetry?.(err, retry, delay);
    await abortableSleep(delay, opts.signal);
    try {
      return await fn();
    } catch (next) {
      err = next;
    }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

// A provider's retry rule, and the mapping of whatever a request can throw (undici, JSON) onto
// our stable LlmError codes.
import type { ProviderConfig } from '../../config/schema.ts';
import { LlmError, isLlmError } from '../errors.ts';
import { retryDelayMs, type BackoffOptions } from './backoff.ts';

export interface PolicyOptions {
  backoff: BackoffOptions;
  /** A Retry-After longer than this is not waited out: the call fails with the 429/503 and its retryAfterMs. */
  maxRetryAfterMs: number;
  random: () => number;
}

/**
 * The delay before retry number `retry` (1 for the first) after `err`, or undefined when the
 * call should fail with it: not transient, a Retry-After longer than we wait, or max_retries spent.
 */
export function retryDelay(err: LlmError, retry: number, cfg: Pick<ProviderConfig, 'max_retries'>, opts: PolicyOptions): number | undefined {
  if (retry > cfg.max_retries || !err.transient) return undefined;
  if (err.retryAfterMs !== undefined && err.retryAfterMs > opts.maxRetryAfterMs) return undefined;
  return retryDelayMs(retry, opts.backoff, opts.random(), err.retryAfterMs);
}

export function breakerOpen(provider: string): LlmError {
  return new LlmError('LLM_BREAKER_OPEN', `provider ${provider} is failing; circuit breaker open`, { provider });
}

/**
 * Names a failure. `caller` is the agent's signal: once it fired, whatever broke is LLM_ABORTED.
 * `timedOut` says our own deadline fired (an attempt's or a stream body's), which undici reports as a plain abort.
 */
export function classify(err: unknown, provider: string, caller: AbortSignal | undefined, timedOut = false): LlmError {
  if (isLlmError(err)) return err;
  if (caller?.aborted) {
    return new LlmError('LLM_ABORTED', `call to provider ${provider} aborted`, { provider, cause: caller.reason });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new LlmError('LLM_TIMEOUT', `provider ${provider} did not answer in time`, { provider, cause: err });
  }
  if (err instanceof SyntaxError) {
    return new LlmError('LLM_BAD_RESPONSE', `provider ${provider}: body is not JSON`, { provider, cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new LlmError('LLM_CONNECTION', `provider ${provider}: ${message}`, { provider, cause: err });
}

/**
 * Settles with `work`, or rejects with LLM_ABORTED as soon as `signal` fires, after calling
 * `stop` (which aborts the attempt in flight). A retry's delay does not listen to the signal,
 * so without this a caller would sit out a Retry-After after its task was cancelled. A
 * result that arrives after the abort goes to `onLate`.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined, provider: string, onLate: (v: T) => void, stop: () => void): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      settled = true;
      stop();
      reject(classify(undefined, provider, signal));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) onLate(v);
        else resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) reject(e);
      },
    );
  });
}

// Every failure of ctx.llm reaches the agent as an LlmError whose `code` is stable, so agents
// (and the executor deciding whether to retry a task) switch on the code, never on a message.

/**
 * - `LLM_HTTP_<status>`: the provider answered with that status (after retries, if any).
 * - `LLM_TIMEOUT`: one request exceeded the provider's `timeout`.
 * - `LLM_BREAKER_OPEN`: the provider's circuit breaker is open; nothing was sent.
 * - `LLM_ABORTED`: the caller's signal fired (task timeout or cancel).
 * - `LLM_BAD_RESPONSE`: the provider's body was not a chat completion we can read.
 * - `LLM_CONNECTION`: no answer at all (refused, reset, DNS).
 * - `LLM_UNKNOWN_PROVIDER`: `opts.provider` names no configured provider.
 * - `LLM_CONFIG`: a provider's configuration cannot work (no base_url, missing API key variable).
 */
export type LlmErrorCode =
  | `LLM_HTTP_${number}`
  | 'LLM_TIMEOUT'
  | 'LLM_BREAKER_OPEN'
  | 'LLM_ABORTED'
  | 'LLM_BAD_RESPONSE'
  | 'LLM_CONNECTION'
  | 'LLM_UNKNOWN_PROVIDER'
  | 'LLM_CONFIG';

export interface LlmErrorDetails {
  provider?: string;
  /** HTTP status, on `LLM_HTTP_*`. */
  status?: number;
  /** The provider's Retry-After in milliseconds, when it sent one (useful to reschedule a task). */
  retryAfterMs?: number;
  cause?: unknown;
}

export class LlmError extends Error {
  override readonly name = 'LlmError';
  readonly code: LlmErrorCode;
  readonly provider: string | undefined;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: LlmErrorCode, message: string, details: LlmErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.provider = details.provider;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }

  /** Worth another attempt: rate limits, server errors, timeouts and lost connections. */
  get transient(): boolean {
    if (this.code === 'LLM_TIMEOUT' || this.code === 'LLM_CONNECTION') return true;
    const s = this.status;
    return s !== undefined && (s === 408 || s === 409 || s === 429 || s >= 500);
  }

  /**
   * Evidence that the provider itself is unwell, counted by the circuit breaker. A 429 is not:
   * the provider is up and asking us to slow down, which retry with Retry-After handles.
   */
  get providerFault(): boolean {
    if (this.code === 'LLM_TIMEOUT' || this.code === 'LLM_CONNECTION') return true;
    return this.status !== undefined && this.status >= 500;
  }
}

export const isLlmError = (e: unknown): e is LlmError => e instanceof LlmError;

export function httpError(provider: string, status: number, detail: string, retryAfterMs?: number): LlmError {
  const text = detail ? `: ${detail}` : '';
  return new LlmError(`LLM_HTTP_${status}`, `provider ${provider} answered ${status}${text}`, { provider, status, retryAfterMs });
}

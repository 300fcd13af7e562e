// ctx.llm: the configured providers behind one LlmClient. Create one per thread that runs
// agents (undici pools cannot cross threads) and share it between all the tasks of that thread.
import type { ProviderConfig } from '../../config/schema.ts';
import { LlmError } from '../errors.ts';
import type { ChatRequest, ChatResponse, ChatStream, LlmCallOptions, LlmClient } from '../types.ts';
import { defaultBackoff, type BackoffOptions } from './backoff.ts';
import { Provider, type LlmRequestEvent, type ProviderStats } from './provider.ts';

export type { LlmRequestEvent, ProviderStats };

export interface LlmClientOptions {
  /** Where `api_key_env` names are looked up. */
  env: Record<string, string | undefined>;
  /** Called once per finished call, e.g. to observe a latency histogram. Must not throw. */
  onRequest?: (e: LlmRequestEvent) => void;
  /** Retry backoff before jitter; tests shorten it. */
  backoff?: BackoffOptions;
  /** Longest Retry-After that is waited out rather than failed with (default 60 s). */
  maxRetryAfterMs?: number;
}

/** The agent-facing client plus what its owner needs: counters and shutdown. */
export interface ManagedLlmClient extends LlmClient {
  /** A snapshot of every provider's counters, by provider name. */
  stats(): Record<string, ProviderStats>;
  /** Closes the connection pools after their requests finish. */
  close(): Promise<void>;
}

/**
 * Builds a client over `providers` (the `[llm.providers.*]` tables). Throws LLM_CONFIG when a
 * provider has no base_url (a mock provider must be started first and its url filled in) or its
 * API key variable is unset, and LLM_UNKNOWN_PROVIDER when `defaultProvider` is not among them.
 */
export function createLlmClient(
  providers: Record<string, ProviderConfig>,
  defaultProvider: string,
  opts: LlmClientOptions,
): ManagedLlmClient {
  const byName = new Map<string, Provider>();
  for (const [name, cfg] of Object.entries(providers)) {
    checkUrl(name, cfg);
    byName.set(name, new Provider(name, cfg, {
      apiKey: apiKeyOf(name, cfg, opts.env),
      onRequest: opts.onRequest,
      backoff: opts.backoff ?? defaultBackoff,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? 60_000,
      random: Math.random,
    }));
  }
  if (!byName.has(defaultProvider)) throw unknown(defaultProvider, byName);

  const pick = (name: string | undefined): Provider => {
    const p = byName.get(name ?? defaultProvider);
    if (!p) throw unknown(name ?? defaultProvider, byName);
    return p;
  };

  return {
    chat(req: ChatRequest, o?: LlmCallOptions): Promise<ChatResponse> {
      try {
        return pick(o?.provider).chat(req, o?.signal);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    stream(req: ChatRequest, o?: LlmCallOptions): ChatStream {
      return pick(o?.provider).stream(req, o?.signal);
    },
    stats() {
      return Object.fromEntries([...byName].map(([name, p]) => [name, p.stats()]));
    },
    async close() {
      await Promise.all([...byName.values()].map((p) => p.close()));
    },
  };
}

function apiKeyOf(name: string, cfg: ProviderConfig, env: LlmClientOptions['env']): string | undefined {
  if (!cfg.api_key_env) return undefined;
  const key = env[cfg.api_key_env];
  if (!key) {
    throw new LlmError('LLM_CONFIG', `provider ${name}: environment variable ${cfg.api_key_env} (api_key_env) is not set`, { provider: name });
  }
  return key;
}

function checkUrl(name: string, cfg: ProviderConfig): void {
  if (!cfg.base_url) {
    throw new LlmError('LLM_CONFIG', `provider ${name} has no base_url (start the mock provider and use its url)`, { provider: name });
  }
  if (!URL.canParse(cfg.base_url) || !/^https?:$/.test(new URL(cfg.base_url).protocol)) {
    throw new LlmError('LLM_CONFIG', `provider ${name}: base_url ${cfg.base_url} is not an http(s) URL`, { provider: name });
  }
}

function unknown(name: string, byName: Map<string, Provider>): LlmError {
  const known = [...byName.keys()].join(', ') || 'none';
  return new LlmError('LLM_UNKNOWN_PROVIDER', `no LLM provider named ${name} (configured: ${known})`, { provider: name });
}

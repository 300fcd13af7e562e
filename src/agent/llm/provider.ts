// One configured provider: one undici Pool (keep-alive connections, capped), its budget and its
// policies. Over HTTP/2 a connection carries up to STREAMS_PER_CONNECTION calls at once, so a
// thousand waiting calls hold ten sockets instead of a thousand; over HTTP/1.1 the pool's cap
// makes further calls queue inside undici rather than open a socket each. A call goes: retry → budget (slot + tokens) → breaker → HTTP, each attempt with a deadline.
// The budget sits outside the breaker so that callers queued for a slot look at the breaker
// only when their turn comes, and fail fast then instead of piling onto a failing provider.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type Dispatcher } from 'undici';
import type { ProviderConfig } from '../../config/schema.ts';
import { LlmError, httpError } from '../errors.ts';
import type { ChatRequest, ChatResponse, ChatStream, Usage } from '../types.ts';
import { parseRetryAfter } from './backoff.ts';
import { Breaker, type BreakerState } from './breaker.ts';
import { Budget, type Lease } from './budget.ts';
import { ChatCall, type ChatTarget } from './chat-call.ts';
import { abortable, breakerOpen, classify, retryDelay, type PolicyOptions } from './policies.ts';
import { sseData } from './sse.ts';
import { bad, errorDetail, estimateTokens, estimatedUsage, readChunk, requestBody } from './wire.ts';

/** Counters an owner turns into metrics. `requests` is keyed by outcome: 'ok' or an error code. */
export interface ProviderStats {
  requests: Record<string, number>;
  retries: number;
  tokensIn: number;
  tokensOut: number;
  breakerOpens: number;
  breakerState: BreakerState;
  /** Requests holding a concurrency slot. */
  inFlight: number;
  /** Calls waiting for a slot or for token budget. */
  waiting: number;
}

/** One finished call (all its attempts), for latency histograms. */
export interface LlmRequestEvent {
  provider: string;
  model: string;
  outcome: string;
  durationMs: number;
  tokensIn: number;
  tokensOut: number;
}

export interface ProviderOptions extends PolicyOptions {
  apiKey: string | undefined;
  onRequest: ((e: LlmRequestEvent) => void) | undefined;
}

interface OpenStream {
  body: Dispatcher.ResponseData['body'];
  lease: Lease;
  deadline: AbortController;
  timer: NodeJS.Timeout;
}

/** undici's default and a Node HTTP/2 server's default peer limit; providers allow at least as many. */
export const STREAMS_PER_CONNECTION = 100;

/** The undici Pool options for a provider: its connection cap and how it speaks HTTP/2. */
export function poolOptions(config: Pick<ProviderConfig, 'connections' | 'http2'>): Pool.Options & { useH2c: boolean } {
  const useH2c = config.http2 === 'h2c';
  return {
    connections: config.connections,
    keepAliveTimeout: 10_000,
    // ALPN offers h2 only over TLS; h2c (HTTP/2 on a plain socket) has to be asked for.
    allowH2: config.http2 !== 'off',
    // undici 8's Pool builds its connector from a top-level useH2c (untyped) and ignores
    // h2Options.useH2c there; the Clients it makes read h2Options. Both are set so both agree.
    useH2c,
    h2Options: { useH2c, maxConcurrentStreams: STREAMS_PER_CONNECTION },
  };
}

export class Provider implements ChatTarget {
  readonly name: string;
  readonly pool: Pool;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
  readonly budget: Budget;
  readonly breaker: Breaker;
  private readonly config: ProviderConfig;
  private readonly policy: PolicyOptions;
  private readonly onRequest: ProviderOptions['onRequest'];
  private readonly counters = { requests: {} as Record<string, number>, retries: 0, tokensIn: 0, tokensOut: 0 };

  constructor(name: string, config: ProviderConfig, opts: ProviderOptions) {
    this.name = name;
    this.config = config;
    const url = new URL(config.base_url);
    this.path = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
    this.pool = new Pool(url.origin, poolOptions(config));
    this.headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (opts.apiKey) this.headers.authorization = `Bearer ${opts.apiKey}`;
    this.timeoutMs = config.timeout * 1000;
    this.budget = new Budget(config.max_concurrency, config.tokens_per_minute);
    this.breaker = new Breaker(config.breaker_failures, config.breaker_cooldown * 1000);
    this.policy = opts;
    this.onRequest = opts.onRequest;
  }

  chat(req: ChatRequest, caller: AbortSignal | undefined): Promise<ChatResponse> {
    const model = req.model ?? this.config.model;
    const body = requestBody(req, this.config.model, false);
    return new ChatCall(this, req, body, model, estimateTokens(req.messages), caller).promise;
  }

  retryDelay(err: LlmError, retry: number): number | undefined {
    return retryDelay(err, retry, this.config, this.policy);
  }

  onRetry(): void {
    this.counters.retries++;
  }

  stream(req: ChatRequest, caller: AbortSignal | undefined): ChatStream {
    const done = Promise.withResolvers<ChatResponse>();
    done.promise.catch(() => {}); // an agent that only iterates must not get an unhandled rejection
    const chunks = this.chunks(req, caller, done);
    return { [Symbol.asyncIterator]: () => chunks, done: done.promise };
  }

  stats(): ProviderStats {
    const c = this.counters;
    return {
      requests: { ...c.requests },
      retries: c.retries,
      tokensIn: c.tokensIn,
      tokensOut: c.tokensOut,
      breakerOpens: this.breaker.opens,
      breakerState: this.breaker.state,
      inFlight: this.budget.inFlight,
      waiting: this.budget.waiting,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async *chunks(req: ChatRequest, caller: AbortSignal | undefined, done: PromiseWithResolvers<ChatResponse>): AsyncGenerator<string> {
    const started = performance.now();
    let model = req.model ?? this.config.model;
    const body = requestBody(req, this.config.model, true);
    let open: OpenStream | undefined;
    let content = '';
    let usage: Usage | undefined;
    let finishReason: string | null = null;
    let settled = false;
    try {
      open = await this.execute(caller, estimateTokens(req.messages),
        (signal, lease) => this.openStream(body, signal, caller, lease), (late) => this.closeStream(late, 0));
      let sawDone = false;
      for await (const data of sseData(open.body)) {
        // Read to the end after [DONE] so the connection goes back to the pool for reuse.
        if (sawDone) continue;
        if (data === '[DONE]') {
          sawDone = true;
          continue;
        }
        const chunk = readChunk(data, this.name);
        model = chunk.model ?? model;
        usage = chunk.usage ?? usage;
        finishReason = chunk.finishReason ?? finishReason;
        if (chunk.content) {
          content += chunk.content;
          yield chunk.content;
        }
      }
      if (!sawDone) throw bad(this.name, 'stream ended before [DONE]');
      usage ??= estimatedUsage(req.messages, content);
      settled = true;
      this.record('ok', started, model, usage);
      done.resolve({ content, finishReason, model, provider: this.name, usage });
    } catch (err) {
      settled = true;
      const e = classify(err, this.name, caller, open?.deadline.signal.aborted);
      this.record(e.code, started, model);
      done.reject(e);
      throw e;
    } finally {
      if (!settled) {
        // The agent left the loop early: the rest of the answer is not wanted.
        const e = new LlmError('LLM_ABORTED', 'stream closed by its reader before the end', { provider: this.name });
        this.record(e.code, started, model);
        done.reject(e);
      }
      if (open) this.closeStream(open, usage?.totalTokens ?? estimatedUsage(req.messages, content).totalTokens);
    }
  }

  private async openStream(body: string, attempt: AbortSignal, caller: AbortSignal | undefined, lease: Lease): Promise<OpenStream> {
    // The attempt's signal stops firing once the headers are in; this deadline covers the body.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.config.timeout * 1000);
    try {
      const signals = caller ? [attempt, deadline.signal, caller] : [attempt, deadline.signal];
      const res = await this.post(body, AbortSignal.any(signals));
      const type = String(res.headers['content-type'] ?? '');
      if (!type.startsWith('text/event-stream')) {
        await res.body.dump();
        throw bad(this.name, `stream answered with content-type ${type || 'none'}`);
      }
      return { body: res.body, lease, deadline, timer };
    } catch (err) {
      clearTimeout(timer);
      throw classify(err, this.name, caller, deadline.signal.aborted);
    }
  }

  private closeStream(open: OpenStream, usedTokens: number): void {
    clearTimeout(open.timer);
    if (!open.body.readableEnded) open.body.destroy();
    open.lease.release(usedTokens);
  }

  private post(body: string, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    const ms = this.config.timeout * 1000;
    return this.pool.request({
      method: 'POST', path: this.path, headers: this.headers, body, signal, headersTimeout: ms, bodyTimeout: ms,
    }).then((res) => {
      if (res.statusCode >= 200 && res.statusCode < 300) return res;
      return res.body.text().then((text) => {
        throw httpError(this.name, res.statusCode, errorDetail(text), parseRetryAfter(res.headers));
      });
    });
  }

  /**
   * Runs a stream's `send` under the provider's retry rule, budget and breaker. `send` gets the
   * attempt's signal and the budget lease; on success it keeps the lease (the stream holds it
   * to the end), on failure the lease is released here with nothing charged. (A chat call does
   * the same in ChatCall, without promises.)
   */
  private execute<T>(caller: AbortSignal | undefined, estimate: number,
    send: (signal: AbortSignal, lease: Lease) => Promise<T>, onLate: (v: T) => void): Promise<T> {
    let inFlight: AbortController | undefined;
    const attempt = (retry: number): Promise<T> => this.budget.acquire(estimate, caller).then((lease) => {
      const admission = this.breaker.admit(Date.now());
      if (admission === 'refuse') {
        lease.release(0);
        throw breakerOpen(this.name);
      }
      const trial = admission === 'trial';
      const signal = new AbortController();
      inFlight = signal;
      const deadline = setTimeout(() => signal.abort(), this.timeoutMs);
      return send(signal.signal, lease).then(
        (v) => {
          clearTimeout(deadline);
          inFlight = undefined;
          this.breaker.record('ok', trial, Date.now());
          return v;
        },
        (err: unknown) => {
          clearTimeout(deadline);
          inFlight = undefined;
          lease.release(0);
          const e = classify(err, this.name, caller, signal.signal.aborted);
          this.breaker.record(caller?.aborted ? 'abandoned' : e.providerFault ? 'fault' : 'other', trial, Date.now());
          throw e;
        },
      );
    }).catch((err: unknown) => {
      const e = classify(err, this.name, caller);
      const delay = caller?.aborted ? undefined : this.retryDelay(e, retry + 1);
      if (delay === undefined) throw e;
      this.onRetry();
      // Unref'd: a retry delay abandoned by an aborted caller must not keep a process alive.
      return sleep(delay, undefined, { ref: false }).then(() => attempt(retry + 1));
    });
    return abortable(attempt(0), caller, this.name, onLate, () => inFlight?.abort());
  }

  record(outcome: string, started: number, model: string, usage?: Usage): void {
    const c = this.counters;
    c.requests[outcome] = (c.requests[outcome] ?? 0) + 1;
    const tokensIn = usage?.promptTokens ?? 0;
    const tokensOut = usage?.completionTokens ?? 0;
    c.tokensIn += tokensIn;
    c.tokensOut += tokensOut;
    this.onRequest?.({ provider: this.name, model, outcome, durationMs: performance.now() - started, tokensIn, tokensOut });
  }
}

// One ctx.llm.chat call: its attempts, each a request handed to undici's dispatcher with an
// Exchange as its handler, under the provider's budget, breaker and retry rule. Objects with
// callbacks rather than promise chains, undici's Readable body or an AbortController per
// attempt: thousands of calls wait on the provider at once, and what each holds is what the
// executor thread's collector walks (bench/llm-client-cost.ts).
import type { Dispatcher } from 'undici';
import type { ChatRequest, ChatResponse, Usage } from '../types.ts';
import { httpError, type LlmError } from '../errors.ts';
import { parseRetryAfter } from './backoff.ts';
import type { Breaker } from './breaker.ts';
import type { Budget, Lease } from './budget.ts';
import { breakerOpen, classify } from './policies.ts';
import { errorDetail, readCompletion } from './wire.ts';

/** What a call needs of its provider. */
export interface ChatTarget {
  readonly name: string;
  readonly pool: Dispatcher;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
  readonly budget: Budget;
  readonly breaker: Breaker;
  /** The delay before retry number `retry`, or undefined to fail with `err`. */
  retryDelay(err: LlmError, retry: number): number | undefined;
  onRetry(): void;
  record(outcome: string, started: number, model: string, usage?: Usage): void;
}

export class ChatCall {
  readonly promise: Promise<ChatResponse>;
  private readonly target: ChatTarget;
  private readonly req: ChatRequest;
  private readonly caller: AbortSignal | undefined;
  readonly body: string;
  private readonly model: string;
  private readonly estimate: number;
  private readonly started = performance.now();
  private attempts = 0;
  private exchange: Exchange | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private settled = false;
  private resolve!: (r: ChatResponse) => void;
  private reject!: (e: LlmError) => void;

  constructor(target: ChatTarget, req: ChatRequest, body: string, model: string, estimate: number, caller: AbortSignal | undefined) {
    this.target = target;
    this.req = req;
    this.body = body;
    this.model = model;
    this.estimate = estimate;
    this.caller = caller;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (caller?.aborted) {
      this.fail(classify(undefined, target.name, caller));
      return;
    }
    caller?.addEventListener('abort', this);
    this.attempt();
  }

  /** The caller's signal fired: stop whatever is under way and fail with LLM_ABORTED. */
  handleEvent(): void {
    if (this.settled) return;
    clearTimeout(this.retryTimer);
    this.exchange?.abandon();
    this.fail(classify(undefined, this.target.name, this.caller));
  }

  /** An attempt's answer: a completion we can read, or an HTTP error. */
  answered(x: Exchange, status: number, headers: Dispatcher.ResponseData['headers'], text: string): void {
    if (status < 200 || status >= 300) {
      this.failed(x, httpError(this.target.name, status, errorDetail(text), parseRetryAfter(headers)));
      return;
    }
    let out: ChatResponse;
    try {
      out = readCompletion(JSON.parse(text), this.target.name, this.req, this.model);
    } catch (err) {
      this.failed(x, classify(err, this.target.name, this.caller));
      return;
    }
    x.lease.release(out.usage.totalTokens);
    this.target.breaker.record('ok', x.trial, Date.now());
    this.settle();
    this.target.record('ok', this.started, out.model, out.usage);
    this.resolve(out);
  }

  /** An attempt failed: retry it after the rule's delay, or fail the call. */
  failed(x: Exchange, err: LlmError): void {
    x.lease.release(0);
    this.target.breaker.record(err.providerFault ? 'fault' : 'other', x.trial, Date.now());
    if (this.settled) return;
    this.exchange = undefined;
    const delay = this.target.retryDelay(err, this.attempts);
    if (delay === undefined) {
      this.fail(err);
      return;
    }
    this.target.onRetry();
    this.retryTimer = setTimeout(retryNow, delay, this);
    // A retry delay abandoned by an aborted caller must not keep a process alive.
    this.retryTimer.unref();
  }

  attempt(): void {
    this.retryTimer = undefined;
    this.attempts++;
    const lease = this.target.budget.tryAcquire(this.estimate);
    if (lease) {
      this.send(lease);
      return;
    }
    this.target.budget.acquire(this.estimate, this.caller).then(
      (l) => (this.settled ? l.release(0) : this.send(l)),
      (err: unknown) => {
        if (!this.settled) this.fail(classify(err, this.target.name, this.caller));
      },
    );
  }

  private send(lease: Lease): void {
    const admission = this.target.breaker.admit(Date.now());
    if (admission === 'refuse') {
      lease.release(0);
      this.fail(breakerOpen(this.target.name));
      return;
    }
    const x = new Exchange(this, this.target, lease, admission === 'trial');
    this.exchange = x;
    x.start();
  }

  private fail(err: LlmError): void {
    this.settle();
    this.target.record(err.code, this.started, this.model);
    this.reject(err);
  }

  private settle(): void {
    this.settled = true;
    this.caller?.removeEventListener('abort', this);
  }
}

function retryNow(call: ChatCall): void {
  call.attempt();
}

/** One attempt: undici's handler for its request, and the attempt's deadline. */
class Exchange implements Dispatcher.DispatchHandler {
  readonly lease: Lease;
  readonly trial: boolean;
  private readonly call: ChatCall;
  private readonly target: ChatTarget;
  private controller: Dispatcher.DispatchController | undefined;
  private readonly deadline: NodeJS.Timeout;
  private status = 0;
  private headers: Dispatcher.ResponseData['headers'] = {};
  private chunks: Buffer[] = [];
  /** Once set, nothing more comes of this attempt: undici's late callbacks are ignored. */
  private closed = false;
  private reason: Error | undefined;

  constructor(call: ChatCall, target: ChatTarget, lease: Lease, trial: boolean) {
    this.call = call;
    this.target = target;
    this.lease = lease;
    this.trial = trial;
    this.deadline = setTimeout(expire, target.timeoutMs, this);
  }

  start(): void {
    try {
      // The attempt's deadline covers headers and body, so undici's own timeouts are off: over
      // HTTP/2 each is a Node timer on the stream, refreshed on every frame, for every call.
      this.target.pool.dispatch({
        method: 'POST', path: this.target.path, headers: this.target.headers, body: this.call.body, headersTimeout: 0, bodyTimeout: 0,
      }, this);
    } catch (err) {
      this.onResponseError(undefined, err as Error);
    }
  }

  /** The caller gave up: the slot goes back, and the breaker learns nothing from it. */
  abandon(): void {
    if (this.closed) return;
    this.stop(new Error('the caller aborted'));
    this.lease.release(0);
    this.target.breaker.record('abandoned', this.trial, Date.now());
  }

  /** The attempt's deadline passed: a timeout, which may be retried. */
  expire(): void {
    if (this.closed) return;
    const reason = new Error('the attempt passed the provider\'s timeout');
    this.stop(reason);
    this.call.failed(this, classify(reason, this.target.name, undefined, true));
  }

  // The request is aborted now, or as soon as undici starts it if it still waits for a connection.
  private stop(reason: Error): void {
    this.close();
    this.reason = reason;
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.closed) controller.abort(this.reason!);
    else this.controller = controller;
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Dispatcher.ResponseData['headers']): void {
    this.status = status;
    this.headers = headers;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.closed) this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.closed) return;
    const chunks = this.chunks;
    this.close();
    const text = chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString();
    this.call.answered(this, this.status, this.headers, text);
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.closed) return;
    this.close();
    this.call.failed(this, classify(err, this.target.name, undefined));
  }

  private close(): void {
    this.closed = true;
    this.chunks = [];
    clearTimeout(this.deadline);
  }
}

function expire(x: Exchange): void {
  x.expire();
}

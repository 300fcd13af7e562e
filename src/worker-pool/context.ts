// The `ctx` an agent's run(input, ctx) gets, built in the executor thread for one attempt.
// ctx.tool and ctx.progress reach the store over the thread's RPC (thread-rpc.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AgentContext, AgentLogger, AgentSession, LlmClient, LogFn } from '../agent/types.ts';
import type { ToolClaim } from '../store/types.ts';
import { assertJson } from './errors.ts';
import type { Job } from './protocol.ts';
import type { ThreadRpc } from './thread-rpc.ts';

export interface ContextDeps {
  job: Job;
  signal: AbortSignal;
  llm: LlmClient;
  rpc: ThreadRpc;
  log: Logger;
  toolLeaseMs: number;
}

/** Waits between looks at a tool result another attempt is still producing. */
const TOOL_WAIT_FIRST_MS = 50;
const TOOL_WAIT_MAX_MS = 1000;

export interface AttemptContext {
  ctx: AgentContext;
  /** Resolves once every progress event and tool result sent so far is stored (before the outcome is). */
  flush(): Promise<void>;
}

export function createContext(deps: ContextDeps): AttemptContext {
  const { job, rpc } = deps;
  /** Writes the attempt does not wait for, only its outcome does. */
  const writing = new Set<Promise<unknown>>();
  const track = (write: Promise<unknown>) => {
    writing.add(write);
    void write.finally(() => writing.delete(write));
  };
  // Two calls with one key inside one attempt share the run instead of both claiming it, until
  // its result is stored: a claim sent before that would find the key still pending, ours.
  const toolRuns = new Map<string, Promise<unknown>>();

  const ctx: AgentContext = new Context(deps, {
    tool<T>(key: string, fn: () => Promise<T>): Promise<T> {
      if (typeof key !== 'string' || key === '') return Promise.reject(new TypeError('ctx.tool needs a non-empty string key'));
      let run = toolRuns.get(key);
      if (!run) {
        const forget = () => toolRuns.delete(key);
        run = runTool(deps, key, fn, (stored) => {
          track(stored);
          void stored.then(forget, forget);
        });
        toolRuns.set(key, run);
        run.catch(forget);
      }
      return run as Promise<T>;
    },
    progress(event: unknown): void {
      assertJson(event, 'PROGRESS_NOT_JSON', 'a progress event');
      track(rpc.call({ op: 'publish', args: [job.taskId, job.fence, event] }).catch((err: unknown) => {
        ctx.log.warn({ err }, 'progress event not stored');
      }));
    },
  });
  if (job.session) {
    const session: AgentSession = Object.freeze({ id: job.session.id, history: Object.freeze(job.session.history) });
    Object.defineProperty(ctx, 'session', { value: session, enumerable: true });
  }
  return { ctx, flush: async () => void (await Promise.all([...writing])) };
}

/**
 * One attempt's ctx. A class so that its lazy `log` is a getter on the prototype: an object
 * literal with a getter is kept as a dictionary (~370 bytes more per task in flight, and slower
 * reads). tool and progress stay own functions, so an agent may take them off ctx and call them.
 */
class Context {
  readonly taskId: string;
  readonly attempt: number;
  readonly tenant: string;
  readonly signal: AbortSignal;
  readonly llm: LlmClient;
  readonly tool: AgentContext['tool'];
  readonly progress: AgentContext['progress'];
  readonly #deps: ContextDeps;
  #log: AgentLogger | undefined;

  constructor(deps: ContextDeps, fns: Pick<AgentContext, 'tool' | 'progress'>) {
    this.taskId = deps.job.taskId;
    this.attempt = deps.job.attempt;
    this.tenant = deps.job.tenant;
    this.signal = deps.signal;
    this.llm = deps.llm;
    this.tool = fns.tool;
    this.progress = fns.progress;
    this.#deps = deps;
  }

  get log(): AgentLogger {
    this.#log ??= attemptLogger(this.#deps.log, this.taskId, this.attempt);
    return this.#log;
  }
}

// Two-phase: claim (key, task) under this attempt's owner, run, store the result. A result
// stored by an earlier attempt is returned as it is; a claim held by another live attempt is
// waited out. The claim's lease is renewed while fn runs, so only a dead owner loses it.
// The agent goes on as soon as fn returns; its result is stored meanwhile (`storing`), before
// the attempt's outcome. A store round trip under load waits for a batch and a turn on the
// write lock (the tool step's two took 56–129 ms in bench:agents); the claim is waited for, since it is what keeps another attempt
// from running the tool at the same time, but the put need not be: an attempt that ends before
// it is stored runs the tool again on its next attempt, as one that ended just before it would.
async function runTool<T>(deps: ContextDeps, key: string, fn: () => Promise<T>, storing: (put: Promise<unknown>) => void): Promise<T> {
  const { job, rpc, signal, toolLeaseMs } = deps;
  const claim = () => rpc.call({ op: 'toolClaim', args: [job.taskId, key, job.owner, toolLeaseMs] }) as Promise<ToolClaim>;
  let wait = TOOL_WAIT_FIRST_MS;
  for (;;) {
    signal.throwIfAborted();
    const c = await claim();
    if (c.state === 'done') return (c.result as { value: T }).value;
    if (c.state === 'claimed') break;
    await sleep(Math.max(1, Math.min(wait, c.leaseRemainingMs)), undefined, { signal });
    wait = Math.min(wait * 2, TOOL_WAIT_MAX_MS);
  }
  const stopRenewing = renewWhileRunning(() => void claim().catch(() => {}), Math.max(1, Math.floor(toolLeaseMs / 3)));
  let value: T;
  try {
    value = await fn();
  } finally {
    stopRenewing();
  }
  assertJson(value, 'TOOL_RESULT_NOT_JSON', `the result of tool ${JSON.stringify(key)}`);
  // The first run hands back what a replay would: the value as JSON stores it.
  const json = JSON.stringify(value);
  const stored = json === undefined ? undefined : (JSON.parse(json) as T);
  storing(rpc.call({ op: 'toolPut', args: [job.taskId, key, job.owner, { value: stored }] }).then((kept) => {
    if (!kept) deps.log.warn({ taskId: job.taskId, key }, 'tool result not stored: another attempt holds the claim');
  }, (err: unknown) => deps.log.warn({ err, taskId: job.taskId, key }, 'tool result not stored; another attempt would run the tool again')));
  return stored as T;
}

/** Renewals of the claims of tools running now, by period: one timer per period for all of them. */
const renewals = new Map<number, Set<() => void>>();

/**
 * Calls `renew` every `everyMs` (the first within `everyMs`) until the returned function is
 * called. Most tools return within a turn or two, so a timer of their own was made and
 * cleared for nothing.
 */
function renewWhileRunning(renew: () => void, everyMs: number): () => void {
  const due = renewals.get(everyMs) ?? startRenewals(everyMs);
  due.add(renew);
  return () => void due.delete(renew);
}

function startRenewals(everyMs: number): Set<() => void> {
  const due = new Set<() => void>();
  renewals.set(everyMs, due);
  setInterval(() => {
    for (const renew of due) renew();
  }, everyMs).unref();
  return due;
}

/**
 * ctx.log. The attempt's child logger is made when something is first logged at a level that
 * is on: agents log at debug on every task, and a pino child per task (its bindings serialized)
 * cost ~0.5 µs and ~1 KB of garbage for lines nobody writes.
 */
function attemptLogger(parent: Logger, taskId: string, attempt: number): AgentLogger {
  let logger: Logger | undefined;
  const fn = (level: 'debug' | 'info' | 'warn' | 'error'): LogFn => (objOrMsg, msg) => {
    if (!parent.isLevelEnabled(level)) return;
    logger ??= parent.child({ taskId, attempt });
    if (typeof objOrMsg === 'string') logger[level](objOrMsg);
    else logger[level](objOrMsg, msg);
  };
  return { debug: fn('debug'), info: fn('info'), warn: fn('warn'), error: fn('error') };
}

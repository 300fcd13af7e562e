// The executor thread: piscina loads this file in each thread and calls its default export
// once per task attempt, many at a time (concurrentTasksPerWorker). It loads the agent once,
// keeps one LLM client for all its tasks (undici pools cannot cross threads), and aborts a
// task's signal on its timeout or when the main thread says so on the cancel channel.
//
// One agent must not take down the other attempts on its thread: each attempt runs in an
// AsyncLocalStorage scope, so process.exit() and an uncaught exception are charged to the
// attempt they came from (it fails, the thread and its other attempts carry on), and an
// attempt whose agent ignores its aborted signal is given up on after the grace.
import { AsyncLocalStorage } from 'node:async_hooks';
import { BroadcastChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import { createLlmClient, type ManagedLlmClient } from '../agent/llm/client.ts';
import { createLogger } from '../log.ts';
import { loadAgentModule, type RunFn } from './agent-module.ts';
import { createContext, type AttemptContext } from './context.ts';
import { ExecutorError, abortError, assertResult, failureOutcome } from './errors.ts';
import { BEAT_MS, CANCEL_CHANNEL, type AbortReason, type CancelMessage, type Job, type Outcome, type ThreadBeat, type ThreadConfig } from './protocol.ts';
import { ThreadRpc } from './thread-rpc.ts';
import { lowerThreadPriority } from '../thread-priority.ts';

const config = workerData as ThreadConfig;
const log = createLogger({ role: 'child', child: config.childId }, config.logLevel, config.logFormat).child({ thread: threadId });
if (config.nice && lowerThreadPriority(config.nice) === null) log.debug({ nice: config.nice }, 'thread priority unchanged: no priority per thread here');
const rpc = new ThreadRpc({ storePort: config.storePort });

/** Aborts of the attempts running here, by owner (one per claim, so a task id may appear twice). */
const running = new Map<string, (reason: AbortReason | 'timeout') => void>();

const cancels = new BroadcastChannel(CANCEL_CHANNEL);
cancels.unref();
cancels.onmessage = (e: MessageEvent) => {
  const { owner, reason } = e.data as CancelMessage;
  running.get(owner)?.(reason);
};

// The pool hands no new task to a thread whose beats stop (its event loop is held).
setInterval(() => parentPort?.postMessage({ beat: 'drover', thread: threadId } satisfies ThreadBeat), BEAT_MS).unref();

/** Ends an attempt with this outcome at once, whatever its agent is doing. */
type EndAttempt = (outcome: Outcome) => void;
/** The attempt whose code is running now (timers and callbacks it started included). */
const attemptScope = new AsyncLocalStorage<EndAttempt>();

/** Thrown by process.exit() inside an attempt, so the agent's code stops where it called it. */
class AgentExit extends Error {}

const exitThread = process.exit.bind(process);
process.exit = ((code?: number | string | null) => {
  const end = attemptScope.getStore();
  if (!end) return exitThread(code as number | undefined);
  end({ ok: false, error: { code: 'AGENT_EXITED', message: `the agent called process.exit(${code ?? ''})` }, retryable: true });
  throw new AgentExit('process.exit() inside an agent ends only its own attempt');
}) as typeof process.exit;

process.on('uncaughtException', (err) => {
  if (err instanceof AgentExit) return;
  const end = attemptScope.getStore();
  if (!end) {
    // Not from an attempt (nothing to charge it to): the thread ends as it would have.
    log.error({ err }, 'uncaught exception in an executor thread');
    exitThread(1);
    return;
  }
  log.error({ err }, 'uncaught exception in an agent; failing its attempt');
  end(failureOutcome(err));
});
// A stray rejected promise in one agent must not end the thread and every task on it.
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection in an agent'));

let llm: ManagedLlmClient | undefined;
let agent: Promise<RunFn> | undefined;

function loadAgent(): Promise<RunFn> {
  // The module is the thread's, not the first attempt's: what its top level starts is not charged to that attempt.
  agent ??= attemptScope.exit(() => loadAgentModule(config.agentFile)).catch((err: unknown) => {
    agent = undefined; // the next task tries again
    throw new ExecutorError('AGENT_LOAD_FAILED', (err as Error).message, true, { cause: err });
  });
  return agent;
}

export default function runAttempt(job: Job): Promise<Outcome> {
  // One promise per attempt, settled by whichever comes first: the agent's own outcome, or
  // `end` (timeout grace, process.exit, an uncaught exception). Not an async function racing a
  // second promise: thousands of attempts wait here at once, each holding what it allocates.
  const { promise, resolve } = Promise.withResolvers<Outcome>();
  const controller = new AbortController();
  let aborted: AbortReason | 'timeout' | undefined;
  let settled = false;
  let giveUp: NodeJS.Timeout | undefined;
  const abort = (reason: AbortReason | 'timeout') => {
    if (aborted) return;
    aborted = reason;
    controller.abort(abortError(reason));
    // An agent that ignores its signal (or never settles) gives its slot back after the grace.
    giveUp = setTimeout(() => end(failureOutcome(null, reason)), config.abortGraceMs);
  };
  // Node fires a timer longer than 2^31 - 1 ms at once.
  const timer = setTimeout(abort, Math.min(job.timeoutMs, 2 ** 31 - 1), 'timeout');
  const end: EndAttempt = (outcome) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    clearTimeout(giveUp);
    running.delete(job.owner);
    resolve(outcome);
  };
  running.set(job.owner, abort);
  attemptScope.run(end, () => attempt(job, controller.signal, () => aborted))
    .then(end, (err: unknown) => end(failureOutcome(err, aborted)));
  return promise;
}

async function attempt(job: Job, signal: AbortSignal, aborted: () => AbortReason | 'timeout' | undefined): Promise<Outcome> {
  let ctx: AttemptContext | undefined;
  try {
    // Shared by every attempt of the thread: made outside this attempt's scope.
    llm ??= attemptScope.exit(() => createLlmClient(config.providers, config.defaultProvider, { env: process.env }));
    ctx = createContext({ job, signal, rpc, log, llm, toolLeaseMs: config.toolLeaseMs });
    const run = await loadAgent();
    // The outcome travels to the main thread by structured clone: what cannot be cloned or
    // stored as JSON fails this attempt here instead of the thread when it is posted.
    const result = assertResult(await run(job.input, ctx.ctx));
    await ctx.flush();
    return { ok: true, result };
  } catch (err) {
    await ctx?.flush();
    return failureOutcome(err, aborted());
  }
}

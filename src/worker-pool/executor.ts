// The executor thread: piscina loads this file in each thread and calls its default export
// once per task attempt, many at a time (concurrentTasksPerWorker). It loads the agent once,
// keeps one LLM client for all its tasks (undici pools cannot cross threads), and aborts a
// task's signal on its timeout or when the main thread says so on the cancel channel.
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { createLlmClient, type ManagedLlmClient } from '../agent/llm/client.ts';
import { createLogger } from '../log.ts';
import { loadAgentModule, type RunFn } from './agent-module.ts';
import { createContext, type AttemptContext } from './context.ts';
import { ExecutorError, abortError, assertJson, failureOutcome } from './errors.ts';
import { CANCEL_CHANNEL, type AbortReason, type CancelMessage, type Job, type Outcome, type ThreadConfig } from './protocol.ts';
import { ThreadRpc } from './thread-rpc.ts';

const config = workerData as ThreadConfig;
const log = createLogger({ role: 'child', child: config.childId }, config.logLevel, config.logFormat).child({ thread: threadId });
const rpc = new ThreadRpc();

/** Aborts of the attempts running here, by owner (one per claim, so a task id may appear twice). */
const running = new Map<string, (reason: AbortReason | 'timeout') => void>();

const cancels = new BroadcastChannel(CANCEL_CHANNEL);
cancels.unref();
cancels.onmessage = (e: MessageEvent) => {
  const { owner, reason } = e.data as CancelMessage;
  running.get(owner)?.(reason);
};

// A stray rejected promise in one agent must not end the thread and every task on it.
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection in an agent'));

let llm: ManagedLlmClient | undefined;
let agent: Promise<RunFn> | undefined;

function loadAgent(): Promise<RunFn> {
  agent ??= loadAgentModule(config.agentFile).catch((err: unknown) => {
    agent = undefined; // the next task tries again
    throw new ExecutorError('AGENT_LOAD_FAILED', (err as Error).message, true, { cause: err });
  });
  return agent;
}

export default async function runAttempt(job: Job): Promise<Outcome> {
  const controller = new AbortController();
  let aborted: AbortReason | 'timeout' | undefined;
  const abort = (reason: AbortReason | 'timeout') => {
    if (aborted) return;
    aborted = reason;
    controller.abort(abortError(reason));
  };
  // Node fires a timer longer than 2^31 - 1 ms at once.
  const timer = setTimeout(abort, Math.min(job.timeoutMs, 2 ** 31 - 1), 'timeout');
  running.set(job.owner, abort);
  let attempt: AttemptContext | undefined;
  try {
    llm ??= createLlmClient(config.providers, config.defaultProvider, { env: process.env });
    attempt = createContext({ job, signal: controller.signal, rpc, log, llm, toolLeaseMs: config.toolLeaseMs });
    const run = await loadAgent();
    const result = await run(job.input, attempt.ctx);
    assertJson(result, 'RESULT_NOT_JSON', 'the result');
    await attempt.flush();
    return { ok: true, result: result ?? null };
  } catch (err) {
    await attempt?.flush();
    return failureOutcome(err, aborted);
  } finally {
    clearTimeout(timer);
    running.delete(job.owner);
  }
}

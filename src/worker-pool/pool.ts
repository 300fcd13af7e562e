// The child's executor threads: one piscina pool with a fixed number of threads, each running
// many tasks at once (agent tasks wait on I/O, so one thread carries hundreds). Tasks carry no
// piscina abort signal: piscina runs an abortable task alone on its thread and kills the thread
// to abort it (research/haproxy_sea.md §4.2). Cancellation is cooperative instead, on a
// BroadcastChannel. The pool also answers the threads' store requests (ctx.tool, ctx.progress),
// so the store keeps one connection per child, its write lock and busy waits stay off the
// threads that run agents, and progress reaches this child's subscribers as it is written.
import { BroadcastChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { Store } from '../store/types.ts';
import { failureOutcome } from './errors.ts';
import type { ExecutorFiles } from './files.ts';
import {
  CANCEL_CHANNEL, isRpcRequest, replyChannel,
  type AbortReason, type CancelMessage, type Job, type Outcome, type RpcReply, type RpcRequest, type ThreadConfig,
} from './protocol.ts';

export interface PoolOptions {
  threads: number;
  tasksPerThread: number;
  thread: ThreadConfig;
  files: ExecutorFiles;
  store: Store;
  log: Logger;
}

export class ExecutorPool {
  /** Tasks the pool runs at once: threads × tasks per thread. */
  readonly slots: number;
  private inFlight = 0;
  private readonly piscina: Piscina;
  private readonly cancels = new BroadcastChannel(CANCEL_CHANNEL);
  private readonly replies = new Map<number, BroadcastChannel>();
  private readonly store: Store;
  private readonly log: Logger;

  constructor(opts: PoolOptions) {
    this.slots = opts.threads * opts.tasksPerThread;
    this.store = opts.store;
    this.log = opts.log;
    this.cancels.unref();
    this.piscina = new opts.files.Piscina({
      filename: opts.files.executor,
      minThreads: opts.threads,
      maxThreads: opts.threads,
      concurrentTasksPerWorker: opts.tasksPerThread,
      // 'sync' parks an idle thread in Atomics.wait, which freezes its timers and sockets.
      atomics: 'disabled',
      idleTimeout: Infinity,
      recordTiming: false,
      workerData: opts.thread,
    });
    this.piscina.on('message', (m: unknown) => {
      if (isRpcRequest(m)) void this.serve(m);
    });
    this.piscina.on('workerDestroy', (w: { id: number }) => {
      this.replies.get(w.id)?.close();
      this.replies.delete(w.id);
    });
    this.piscina.on('error', (err: unknown) => this.log.error({ err }, 'executor pool error'));
  }

  /** Tasks running now (including ones aborted whose agent has not returned yet). */
  get running(): number {
    return this.inFlight;
  }

  /** Runs one attempt. Never rejects: a thread that dies under the task is an AGENT_CRASHED outcome. */
  async run(job: Job): Promise<Outcome> {
    this.inFlight++;
    try {
      return (await this.piscina.run(job)) as Outcome;
    } catch (err) {
      this.log.error({ err, taskId: job.taskId }, 'executor thread failed under a task');
      const out = failureOutcome(err);
      return out.ok ? out : { ...out, error: { code: 'AGENT_CRASHED', message: out.error.message } };
    } finally {
      this.inFlight--;
    }
  }

  /** Asks the thread running the attempt to abort its signal. */
  abort(owner: string, reason: AbortReason): void {
    this.cancels.postMessage({ owner, reason } satisfies CancelMessage);
  }

  async close(): Promise<void> {
    this.cancels.close();
    for (const c of this.replies.values()) c.close();
    this.replies.clear();
    await this.piscina.destroy();
  }

  private async serve(req: RpcRequest): Promise<void> {
    let reply: RpcReply;
    try {
      reply = { id: req.id, ok: true, value: await this.call(req) };
    } catch (err) {
      const { code, message } = err as { code?: unknown; message?: unknown };
      reply = { id: req.id, ok: false, error: { code: typeof code === 'string' ? code : 'STORE_ERROR', message: String(message) } };
    }
    let channel = this.replies.get(req.thread);
    if (!channel) {
      channel = new BroadcastChannel(replyChannel(req.thread));
      channel.unref();
      this.replies.set(req.thread, channel);
    }
    channel.postMessage(reply);
  }

  private call(req: RpcRequest): Promise<unknown> {
    switch (req.op) {
      case 'toolClaim':
        return this.store.toolClaim(...req.args);
      case 'toolPut':
        return this.store.toolPut(...req.args);
      case 'publish':
        return this.store.publish(...req.args);
    }
  }
}

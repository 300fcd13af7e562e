// The child's executor threads: one piscina pool with a fixed number of threads, each running
// many tasks at once (agent tasks wait on I/O, so one thread carries hundreds). Tasks carry no
// piscina abort signal: piscina runs an abortable task alone on its thread and kills the thread
// to abort it (research/haproxy_sea.md §4.2). Cancellation is cooperative instead, on a
// BroadcastChannel. The threads' store calls (ctx.tool, ctx.progress) never wait on the write
// lock themselves: where the store writes on a thread of its own, each executor thread gets a
// channel straight to it (the pool hands the thread's offer to Store.connectPort); elsewhere the
// pool answers them here. Either way progress reaches this child's subscribers as it is written.
//
// An agent that does not give its thread back (a busy loop ignores every signal) is the one
// case cooperation cannot handle: kill(owner) terminates the thread the attempt was placed on
// (the pool's own load balancer records where each attempt goes) and piscina starts a new one.
// The other attempts on that thread come back as `released`: they go back to the queue.
// Until then, new attempts go to threads that still send their beats, if any does.
import { performance } from 'node:perf_hooks';
import { BroadcastChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { TurnBatches } from '../store/turn-batch.ts';
import type { Store } from '../store/types.ts';
import { failureOutcome } from './errors.ts';
import type { ExecutorFiles } from './files.ts';
import { threadResourceLimits } from './heap.ts';
import { untilStoreAnswers } from './store-retry.ts';
import {
  BEAT_MS, CANCEL_CHANNEL, isRpcRequests, isStorePortOffer, isThreadBeat, replyChannel,
  type AbortReason, type CancelMessage, type Job, type RpcReply, type RpcCall, type RpcRequests, type RunOutcome, type ThreadConfig,
} from './protocol.ts';

/** What piscina's load balancer is given and returns (its types are not exported by name). */
type Balancer = NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer'];
type PoolThread = Parameters<NonNullable<Balancer>>[1][number];

/** A thread silent this long is held by something (a busy loop, a long synchronous step). */
const STALLED_AFTER_MS = 4 * BEAT_MS;

export interface PoolOptions {
  threads: number;
  tasksPerThread: number;
  thread: ThreadConfig;
  files: ExecutorFiles;
  store: Store;
  log: Logger;
  /** V8 old-generation heap limit of each thread (MiB); a thread over it dies, and is replaced. 0 = V8's default. */
  threadHeapMb?: number;
}

export class ExecutorPool {
  /** Tasks the pool runs at once: threads × tasks per thread. */
  readonly slots: number;
  private inFlight = 0;
  private readonly piscina: Piscina;
  private readonly cancels = new BroadcastChannel(CANCEL_CHANNEL);
  private readonly replies = new Map<number, BroadcastChannel>();
  /** The answers to each thread ready in one turn, sent in one message. */
  private readonly outbox = new TurnBatches<number, RpcReply>((thread, replies) => this.answer(thread, replies));
  private readonly store: Store;
  private readonly log: Logger;
  private readonly queueOptions: symbol;
  /** The thread each attempt was handed to, by owner. */
  private readonly placed = new Map<string, number>();
  /** Threads being terminated: no new attempt goes there. */
  private readonly doomed = new Set<number>();
  /** Attempts whose thread was terminated because of them (the others on it are released). */
  private readonly culprits = new Set<string>();
  /** When each thread's last beat came (performance.now()). */
  private readonly beats = new Map<number, number>();
  /** Ends the retries of progress events through a store outage. */
  private readonly closing = new AbortController();

  constructor(opts: PoolOptions) {
    this.slots = opts.threads * opts.tasksPerThread;
    this.store = opts.store;
    this.log = opts.log;
    this.cancels.unref();
    this.queueOptions = opts.files.Piscina.queueOptionsSymbol;
    const perThread = opts.tasksPerThread;
    // piscina's least-busy choice, minus doomed threads and, while any other can take it,
    // stalled ones; it remembers where each attempt went.
    const loadBalancer: Balancer = (task, threads) => {
      const now = performance.now();
      let best: PoolThread | null = null;
      let bestStalled = true;
      for (const t of threads) {
        if (t.terminating || t.destroyed || this.doomed.has(t.id) || t.currentUsage >= perThread) continue;
        const stalled = now - (this.beats.get(t.id) ?? now) > STALLED_AFTER_MS;
        if (!best || (bestStalled && !stalled) || (stalled === bestStalled && t.currentUsage < best.currentUsage)) {
          best = t;
          bestStalled = stalled;
        }
      }
      const owner = (task[this.queueOptions as keyof typeof task] as { owner?: string } | null)?.owner;
      if (best && owner !== undefined) this.placed.set(owner, best.id);
      return best;
    };
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
      loadBalancer,
      resourceLimits: threadResourceLimits(opts.threadHeapMb ?? 0),
    });
    this.piscina.on('message', (m: unknown) => {
      if (isRpcRequests(m)) for (const call of m.calls) void this.serve(m.thread, call);
      else if (isThreadBeat(m)) this.beats.set(m.thread, performance.now());
      else if (isStorePortOffer(m)) {
        // Closed unused, the thread's calls fail rather than wait (it was told there would be one).
        if (this.store.connectPort) this.store.connectPort(m.port);
        else m.port.close();
      }
    });
    this.piscina.on('workerDestroy', (w: { id: number }) => {
      this.replies.get(w.id)?.close();
      this.replies.delete(w.id);
      this.outbox.drop(w.id);
      this.doomed.delete(w.id);
      this.beats.delete(w.id);
    });
    this.piscina.on('error', (err: unknown) => this.log.error({ err }, 'executor pool error'));
  }

  /** Tasks running now (including ones aborted whose agent has not returned yet). */
  get running(): number {
    return this.inFlight;
  }

  /**
   * Runs one attempt. Never rejects: a thread that dies under the task is an AGENT_CRASHED
   * outcome, or `released` when the pool terminated that thread for another attempt.
   */
  run(job: Job): Promise<RunOutcome> {
    this.inFlight++;
    let running: Promise<unknown>;
    try {
      // The owner rides along for the load balancer; structured clone leaves symbol keys behind.
      running = this.piscina.run({ ...job, [this.queueOptions]: { owner: job.owner } });
    } catch (err) {
      running = Promise.reject(err);
    }
    // Callbacks, not an async function: one suspended for the whole run would hold its frame
    // (and the job, input and all) per task in flight. These hold two strings.
    const { owner, taskId } = job;
    return running.then((outcome) => this.ran(owner, outcome as RunOutcome), (err: unknown) => this.ran(owner, this.crashed(owner, taskId, err)));
  }

  private ran(owner: string, outcome: RunOutcome): RunOutcome {
    this.inFlight--;
    this.placed.delete(owner);
    this.culprits.delete(owner);
    return outcome;
  }

  /** What an attempt whose thread failed under it comes to (before ran() forgets where it was). */
  private crashed(owner: string, taskId: string, err: unknown): RunOutcome {
    const thread = this.placed.get(owner);
    if (thread !== undefined && this.doomed.has(thread) && !this.culprits.has(owner)) {
      return { released: true, reason: 'its executor thread was terminated for another task' };
    }
    this.log.error({ err, taskId }, 'executor thread failed under a task');
    const out = failureOutcome(err);
    return out.ok ? out : { ...out, error: { code: 'AGENT_CRASHED', message: out.error.message } };
  }

  /**
   * Terminates the thread the attempt runs on, for an agent that kept it past its grace;
   * piscina replaces it. False when the attempt is on no thread (ended, or not handed out yet).
   */
  kill(owner: string): boolean {
    const thread = this.placed.get(owner);
    if (thread === undefined) return false;
    this.culprits.add(owner);
    if (this.doomed.has(thread)) return true;
    const worker = this.piscina.threads.find((w) => w.threadId === thread);
    if (!worker) return false;
    this.doomed.add(thread);
    const others = [...this.placed].filter(([o, t]) => t === thread && o !== owner).length;
    this.log.warn({ thread, owner, others }, 'terminating an executor thread held by an agent past its grace; its other tasks go back to the queue');
    void worker.terminate();
    return true;
  }

  /** Asks the thread running the attempt to abort its signal. */
  abort(owner: string, reason: AbortReason): void {
    this.cancels.postMessage({ owner, reason } satisfies CancelMessage);
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.cancels.close();
    for (const c of this.replies.values()) c.close();
    this.replies.clear();
    await this.piscina.destroy();
  }

  private async serve(thread: number, req: RpcRequests['calls'][number]): Promise<void> {
    let reply: RpcReply;
    try {
      reply = { id: req.id, ok: true, value: await this.call(req) };
    } catch (err) {
      const { code, message } = err as { code?: unknown; message?: unknown };
      reply = { id: req.id, ok: false, error: { code: typeof code === 'string' ? code : 'STORE_ERROR', message: String(message) } };
    }
    this.outbox.add(thread, reply);
  }

  private answer(thread: number, replies: RpcReply[]): void {
    // The pool is closing: nobody is left to answer (an ended thread's answers are dropped).
    if (this.closing.signal.aborted) return;
    let channel = this.replies.get(thread);
    if (!channel) {
      channel = new BroadcastChannel(replyChannel(thread));
      channel.unref();
      this.replies.set(thread, channel);
    }
    channel.postMessage(replies);
  }

  private call(req: RpcCall): Promise<unknown> {
    // Kept through a store outage, as the task's outcome is (store-retry.ts): the attempt holds
    // its lease meanwhile, and failing a tool call or an event would run the task again. Each
    // is safe to repeat: a claim by the same owner answers `claimed` again, a put or an event
    // from an attempt that no longer holds its claim writes nothing (false / null).
    const retried = <T>(what: string, fn: () => Promise<T>) => untilStoreAnswers(fn, {
      signal: this.closing.signal,
      onRetry: (err, retry) => {
        if (retry === 1) this.log.warn({ err, taskId: req.args[0] }, `store unreachable; retrying ${what}`);
      },
    });
    switch (req.op) {
      case 'toolClaim':
        return retried('a tool claim', () => this.store.toolClaim(...req.args));
      case 'toolPut':
        return retried('a tool result', () => this.store.toolPut(...req.args));
      case 'publish':
        return retried('a progress event', () => this.store.publish(...req.args));
    }
  }
}

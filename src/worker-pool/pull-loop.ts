// The child's side of the queue: claim tasks only while the pool has free slots, hold each
// claim by renewing its lease, write the outcome with the claim's fence, and give back on
// drain what cannot finish in time. A crashed child holds nothing for long: its leases run
// out and any child's reaper puts the tasks back in the queue.
import type { Logger } from 'pino';
import { retryDelayMs } from '../agent/llm/backoff.ts';
import type { ExecutorConfig } from '../config/schema.ts';
import { isStoreError } from '../store/errors.ts';
import type { ClaimedTask, Store, Unsubscribe } from '../store/types.ts';
import { failureOutcome } from './errors.ts';
import { isReleased, type AbortReason, type Job, type Outcome, type RunOutcome } from './protocol.ts';
import { assistantMessage, historyOf, userMessage } from './session.ts';
import { untilStoreAnswers } from './store-retry.ts';

/** What the loop needs of the pool (pool.ts), so tests can look at the loop alone. */
export interface TaskRunner {
  readonly slots: number;
  run(job: Job): Promise<RunOutcome>;
  abort(owner: string, reason: AbortReason): void;
  /** Ends the thread an attempt holds past its grace; false when it is on none. */
  kill(owner: string): boolean;
}

export interface PullLoopOptions {
  store: Store;
  pool: TaskRunner;
  /** This child's name in the store (tasks' `worker`). */
  worker: string;
  config: Pick<ExecutorConfig, 'lease' | 'poll_interval' | 'retry_delay' | 'retry_delay_max'>;
  log: Logger;
  /** Called when the number of running tasks changes; `urgent` when a full pool got a free slot. */
  onChange?: (urgent: boolean) => void;
  random?: () => number;
  /** Time an agent gets to return after its signal fired; the thread gives up on it then, and
   * the loop terminates a thread still held after twice this (executor.abort_grace). */
  abandonGraceMs?: number;
}

/** What an attempt keeps of the task it claimed: the claimed row (every column, the run
 * history) is dropped once the attempt has begun, so it dies young instead of being copied by
 * scavenges for the whole run. A turn keeps its input, which its session append needs. */
type HeldTask = Pick<ClaimedTask, 'id' | 'tenant' | 'kind' | 'sessionId' | 'attempt' | 'fence' | 'input'>;

interface Attempt {
  task: HeldTask;
  /** Names this claim: the tool cache's owner and the key of cancel messages. */
  owner: string;
  /** Once set, nothing more is written for this claim (outcome written, lease lost, released). */
  closed: boolean;
  cancelling: boolean;
  /** A renew is on its way to the store; `renewAgain` asks for another as soon as it is back. */
  renewing: boolean;
  renewAgain: boolean;
  /** When the next renewal is due (Date.now() ms). */
  renewAt: number;
  /** When the backstop ends the attempt and its thread (Infinity: not armed), and why. */
  backstopAt: number;
  backstopReason: AbortReason | 'timeout';
}

/** Names a claim: the tool cache's owner, the key of cancel messages and of the loop's attempts. */
function ownerOf(worker: string, taskId: string, fence: number): string {
  return `${worker}/${taskId}/${fence}`;
}

/** Tasks asked for in one claim, so one transaction never holds the store's lock for long. */
const CLAIM_BATCH = 256;
/** After a task ends, claim after this pause, so completions close together share one claim. */
const REFILL_DELAY_MS = 5;
/** The longest the lease ticker sleeps: how late a backstop may come with a long grace and lease. */
const MAX_TICK_MS = 1000;
/** Time an agent gets to return after its signal fired (the default of executor.abort_grace). */
export const ABANDON_GRACE_MS = 5_000;

export class PullLoop {
  private readonly o: PullLoopOptions;
  private readonly leaseMs: number;
  /** A lease is renewed every third of it. */
  private readonly renewMs: number;
  private readonly graceMs: number;
  /** One timer for every attempt's renewals and backstop, as BullMQ extends all its job locks
   * in one timer: two Timeouts per attempt were a tenth of what the main thread holds per task. */
  private ticker: NodeJS.Timeout | undefined;
  private readonly tickMs: number;
  private readonly attempts = new Map<string, Attempt>();
  /** Queue waits (s) of the tasks claimed in the current interval, sampled to at most 1024. */
  private waits: number[] = [];
  /** Outcomes and give-backs on their way to the store, by the claim's owner: still held there. */
  private readonly writes = new Map<string, Promise<void>>();
  /** A claim failed, and the store may have run it all the same (Redis ran the script and the
   * connection dropped before the answer): tasks held for this worker without its knowing
   * wait for their leases unless it looks for them (releaseUnknown). */
  private claimInDoubt = false;
  /** Ends the retries of writes through a store outage (drain deadline passed). */
  private readonly giveUpWrites = new AbortController();
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wakeUp: (() => void) | undefined;
  /** A task ended since the last claim started: claim again instead of sleeping. */
  private kicked = false;
  private refill: NodeJS.Timeout | undefined;
  private reaper: NodeJS.Timeout | undefined;
  private onEnd: (() => void)[] = [];
  private unwatchCancels: Unsubscribe | undefined;

  constructor(opts: PullLoopOptions) {
    this.o = opts;
    this.leaseMs = Math.max(1, Math.round(opts.config.lease * 1000));
    this.renewMs = Math.max(1, Math.floor(this.leaseMs / 3));
    this.graceMs = opts.abandonGraceMs ?? ABANDON_GRACE_MS;
    // A renewal comes at most a sixth of the lease late (half the lease still left), a backstop
    // at most half the grace late.
    this.tickMs = Math.max(1, Math.min(MAX_TICK_MS, Math.floor(this.leaseMs / 6), Math.floor(this.graceMs / 2)));
  }

  /** Tasks claimed and not yet ended (an attempt whose agent ignores its abort keeps its slot). */
  get running(): number {
    return this.attempts.size;
  }

  /** Seconds the tasks claimed since the last call waited in the queue, p95 (0 when none); starts a new interval. */
  takeQueueWaitP95(): number {
    const w = this.waits.sort((a, b) => a - b);
    this.waits = [];
    return w.length ? w[Math.min(w.length - 1, Math.floor(w.length * 0.95))]! : 0;
  }

  start(): void {
    this.loopDone = this.loop();
    // A cancel reaches the attempt as soon as the store tells of it, not at the next renewal.
    this.unwatchCancels = this.o.store.onCancel((taskId) => this.cancelHint(taskId));
    // claim() reaps too, but a child whose slots are all busy does not claim.
    this.reaper = setInterval(() => {
      this.o.store.reapExpired().catch((err: unknown) => this.o.log.warn({ err }, 'reaping expired leases failed'));
    }, Math.max(100, Math.floor(this.leaseMs / 2)));
    this.reaper.unref();
  }

  /**
   * Stops claiming, lets running tasks finish until the deadline, then aborts what is left and
   * gives it back to the queue (not counted as an attempt). Resolves when the store is no longer
   * being written for this child.
   */
  async drain(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    this.stopped = true;
    clearInterval(this.reaper);
    this.wakeUp?.();
    await this.loopDone;
    if (this.claimInDoubt) await this.releaseUnknown();
    while (this.attempts.size > 0 && Date.now() < deadline) await this.nextEnd(deadline - Date.now());
    const left = [...this.attempts.values()].filter((a) => !a.closed);
    if (left.length > 0) this.o.log.info({ tasks: left.length }, 'drain deadline passed; returning running tasks to the queue');
    await Promise.all(left.map((a) => this.release(a)));
    // Outcomes still waiting for the store to come back get until the deadline; after it
    // their leases run out and the tasks run again elsewhere.
    const pending = Promise.all([...this.writes.values()]);
    const rest = deadline - Date.now();
    if (rest > 0) await Promise.race([pending, new Promise((r) => setTimeout(r, rest).unref())]);
    this.giveUpWrites.abort();
    await pending;
    this.unwatchCancels?.();
  }

  private async loop(): Promise<void> {
    const { store, pool, worker } = this.o;
    while (!this.stopped) {
      this.kicked = false;
      // No claim of this loop is on its way now, so a task held and unknown here is a lost answer's.
      if (this.claimInDoubt) await this.releaseUnknown();
      const asked = Math.min(pool.slots - this.attempts.size, CLAIM_BATCH);
      let got = 0;
      if (asked > 0) {
        try {
          const tasks = await store.claim({ worker, n: asked, leaseMs: this.leaseMs });
          got = tasks.length;
          const now = Date.now();
          for (const task of tasks) {
            const waited = (now - Math.max(task.createdAt, task.runAt)) / 1000;
            if (this.waits.length < 1024) this.waits.push(waited);
            else this.waits[Math.floor(Math.random() * 1024)] = waited;
            this.begin(task);
          }
        } catch (err) {
          this.o.log.warn({ err }, 'claiming tasks failed');
          this.claimInDoubt = true;
        }
      }
      // A full batch means more may be waiting: ask again at once. With free slots, a store
      // that can block (Redis) wakes the loop as soon as a task is ready instead of after
      // poll_interval; the loop still looks every poll_interval (retries coming due).
      if ((got === 0 || got < asked) && !this.kicked) {
        const pollMs = this.o.config.poll_interval * 1000;
        await this.sleep(pollMs, asked > 0 ? store.waitForWork?.bind(store) : undefined);
      }
    }
  }

  /** Gives back to the queue what the store says this worker holds and it does not know of.
   * Until that succeeds the claim stays in doubt, and the next round looks again. */
  private async releaseUnknown(): Promise<void> {
    const { store, worker, log } = this.o;
    try {
      const held = await store.heldBy(worker);
      const unknown = held.filter((t) => {
        const owner = ownerOf(worker, t.id, t.fence);
        return !this.attempts.has(owner) && !this.writes.has(owner);
      });
      // Fenced: a task that ended since the read is left as it is.
      await Promise.all(unknown.map(async (t) => {
        if (await store.release(t.id, t.fence)) log.warn({ taskId: t.id }, 'a claim whose answer was lost held this task; it goes back to the queue');
      }));
      this.claimInDoubt = false;
    } catch (err) {
      log.warn({ err }, 'looking for tasks a lost claim answer left held failed');
    }
  }

  private begin(task: ClaimedTask): void {
    const held: HeldTask = {
      id: task.id, tenant: task.tenant, kind: task.kind, sessionId: task.sessionId, attempt: task.attempt, fence: task.fence,
      input: task.kind === 'turn' ? task.input : undefined,
    };
    const a: Attempt = {
      task: held, owner: ownerOf(this.o.worker, task.id, task.fence), closed: false, cancelling: false, renewing: false, renewAgain: false,
      renewAt: Date.now() + this.renewMs, backstopAt: Infinity, backstopReason: 'timeout',
    };
    this.attempts.set(a.owner, a);
    this.armBackstop(a, task.timeoutMs, 'timeout');
    if (!this.ticker) {
      // Unref'd as the reaper is: an attempt keeps the child up through its thread, not this.
      this.ticker = setInterval(() => this.tick(), this.tickMs);
      this.ticker.unref();
    }
    this.o.onChange?.(false);
    this.execute(a, task);
  }

  /**
   * Promise callbacks rather than an async function: a suspended async function keeps its whole
   * frame for as long as the agent runs, over twice what these hold per task in flight on the
   * HTTP loop, and every scavenge copies it until it is promoted (bench/RESULTS.md).
   */
  private execute(a: Attempt, task: ClaimedTask): void {
    const job: Job = { taskId: task.id, attempt: task.attempt, fence: task.fence, tenant: task.tenant, owner: a.owner, input: task.input, timeoutMs: task.timeoutMs };
    const outcome = task.kind === 'turn' && task.sessionId ? this.runTurn(job, task.tenant, task.sessionId) : this.o.pool.run(job);
    // pool.run never rejects; only the session read can, and the attempt is retried like any failed one.
    outcome.then((o) => this.ended(a, o), (err: unknown) => this.ended(a, failureOutcome(err)));
  }

  private async runTurn(job: Job, tenant: string, sessionId: string): Promise<RunOutcome> {
    const session = await this.o.store.sessionGet(tenant, sessionId);
    job.session = { id: sessionId, history: historyOf(session?.messages ?? []) };
    return this.o.pool.run(job);
  }

  private ended(a: Attempt, outcome: RunOutcome): void {
    try {
      if (isReleased(outcome)) {
        if (!a.closed) this.giveBack(a, outcome.reason);
      } else if (!a.closed) this.finish(a, outcome);
    } finally {
      a.closed = true;
      const wasFull = this.attempts.size >= this.o.pool.slots;
      this.attempts.delete(a.owner);
      if (this.attempts.size === 0) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
      this.o.onChange?.(wasFull);
      if (this.onEnd.length > 0) for (const f of this.onEnd.splice(0)) f();
      this.scheduleRefill();
    }
  }

  /**
   * The thread gives up on an attempt `grace` after its signal fired (signalMs from now); one
   * that has not come back `grace` later still holds its thread, which only a busy loop does:
   * its outcome is recorded and the thread terminated, which frees the slot.
   */
  private armBackstop(a: Attempt, signalMs: number, reason: AbortReason | 'timeout'): void {
    const at = Date.now() + signalMs + 2 * this.graceMs;
    if (a.backstopAt <= at) return;
    a.backstopAt = at;
    a.backstopReason = reason;
  }

  private fireBackstop(a: Attempt): void {
    a.backstopAt = Infinity;
    if (!a.closed) {
      this.o.log.warn({ taskId: a.task.id, attempt: a.task.attempt, reason: a.backstopReason }, 'agent ignored its aborted signal; recording the outcome');
      this.finish(a, failureOutcome(null, a.backstopReason));
    }
    this.o.pool.kill(a.owner);
  }

  /** Renews the leases that are due and fires the backstops that are; the renewals of one tick
   * reach the store together (one batch on a store that batches). */
  private tick(): void {
    const now = Date.now();
    for (const a of this.attempts.values()) {
      if (a.backstopAt <= now) this.fireBackstop(a);
      else if (!a.closed && !a.renewing && a.renewAt <= now) void this.renew(a);
    }
  }

  /** Writes the outcome under the claim's fence; tracked so drain() can wait for it. */
  private finish(a: Attempt, outcome: Outcome): void {
    a.closed = true;
    this.track(a.owner, this.write(a.task, outcome).catch((err: unknown) => {
      // The lease will run out and the task come back; nothing is lost.
      this.o.log.error({ err, taskId: a.task.id }, 'writing a task outcome failed');
    }));
  }

  /** Back to the queue without counting the attempt: it was stopped by no fault of its own. */
  private giveBack(a: Attempt, why: string): void {
    a.closed = true;
    this.o.log.info({ taskId: a.task.id, attempt: a.task.attempt, why }, 'task goes back to the queue');
    this.track(a.owner, this.retried(a.task, () => this.o.store.release(a.task.id, a.task.fence)).then(() => undefined, (err: unknown) => {
      this.o.log.error({ err, taskId: a.task.id }, 'returning a task to the queue failed; its lease will run out');
    }));
  }

  /** One per claim: finish() and giveBack() each close the attempt first. */
  private track(owner: string, write: Promise<void>): void {
    this.writes.set(owner, write);
    void write.finally(() => this.writes.delete(owner));
  }

  /** The store says the task was cancelled: ask it now rather than at the next renewal. */
  private cancelHint(taskId: string): void {
    for (const a of this.attempts.values()) {
      if (a.task.id !== taskId || a.closed || a.cancelling) continue;
      if (a.renewing) a.renewAgain = true;
      else void this.renew(a);
    }
  }

  private async write(task: HeldTask, outcome: Outcome): Promise<void> {
    const { store, log } = this.o;
    const fields = { taskId: task.id, attempt: task.attempt };
    if (outcome.ok) {
      if (task.kind === 'turn' && task.sessionId) {
        const turn = [userMessage(task.input), assistantMessage(outcome.result)];
        try {
          await this.retried(task, () => store.sessionAppend(task.tenant, task.sessionId!, turn, { taskId: task.id, fence: task.fence }));
        } catch (err) {
          if (!isStoreError(err, 'STALE_FENCE')) throw err;
          log.warn(fields, 'turn lost its claim before its reply was saved; the result is dropped');
          return;
        }
      }
      if (!(await this.retried(task, () => store.complete(task.id, task.fence, outcome.result)))) log.warn(fields, 'task lost its claim; the result is dropped');
      return;
    }
    const { retry_delay, retry_delay_max } = this.o.config;
    const delay = retryDelayMs(task.attempt, { baseMs: retry_delay * 1000, maxMs: retry_delay_max * 1000 }, (this.o.random ?? Math.random)(), outcome.retryAfterMs);
    const result = await this.retried(task, () => store.fail(task.id, task.fence, outcome.error, { retryable: outcome.retryable, retryDelayMs: delay }));
    log.info({ ...fields, code: outcome.error.code, result, ...(result === 'retrying' && { retryInMs: delay }) }, 'task attempt failed');
  }

  /** A write for a claim, retried while the store is unreachable (store-retry.ts). */
  private retried<T>(task: HeldTask, fn: () => Promise<T>): Promise<T> {
    return untilStoreAnswers(fn, () => ({
      signal: this.giveUpWrites.signal,
      ...(this.o.random && { random: this.o.random }),
      onRetry: (err, retry, delayMs) => {
        if (retry === 1 || retry % 20 === 0) this.o.log.warn({ err, taskId: task.id, retry, delayMs }, 'store unreachable; retrying the write');
      },
    }));
  }

  private async renew(a: Attempt): Promise<void> {
    if (a.closed) return;
    let result;
    a.renewing = true;
    try {
      result = await this.o.store.renew(a.task.id, a.task.fence, this.leaseMs);
    } catch (err) {
      this.o.log.warn({ err, taskId: a.task.id }, 'renewing a lease failed');
      a.renewAt = Date.now() + this.renewMs;
      return;
    } finally {
      a.renewing = false;
    }
    if (a.closed) return;
    if (result === 'lost') {
      a.closed = true;
      this.o.log.warn({ taskId: a.task.id, attempt: a.task.attempt }, 'task lease lost; aborting the attempt');
      this.o.pool.abort(a.owner, 'lost');
      this.armBackstop(a, 0, 'lost');
      return;
    }
    if (result === 'cancelling' && !a.cancelling) {
      a.cancelling = true;
      this.o.pool.abort(a.owner, 'cancel');
      this.armBackstop(a, 0, 'cancel');
    }
    if (a.renewAgain) {
      a.renewAgain = false;
      void this.renew(a);
    } else a.renewAt = Date.now() + this.renewMs;
  }

  private async release(a: Attempt): Promise<void> {
    a.closed = true;
    this.o.pool.abort(a.owner, 'drain');
    try {
      await this.o.store.release(a.task.id, a.task.fence);
    } catch (err) {
      this.o.log.error({ err, taskId: a.task.id }, 'returning a task to the queue failed; its lease will run out');
    }
  }

  /** Until ms pass, the loop is woken (a task ended, drain), or `waitForWork` says a task may be ready. */
  private sleep(ms: number, waitForWork?: (timeoutMs: number) => Promise<boolean>): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.wakeUp === done) self.wakeUp = undefined;
        resolve();
      }
      this.wakeUp = done;
      // A failed wait (store closed, Redis down) leaves the timer to end the sleep.
      waitForWork?.(ms).then((woken) => {
        if (woken) done();
      }, () => undefined);
    });
  }

  private scheduleRefill(): void {
    if (this.stopped || this.refill) return;
    this.refill = setTimeout(() => {
      this.refill = undefined;
      this.kicked = true;
      this.wakeUp?.();
    }, REFILL_DELAY_MS);
  }

  private nextEnd(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.onEnd.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

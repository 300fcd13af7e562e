// A provider's per-child budget: how many requests may be in flight (max_concurrency) and how
// many tokens a minute may be spent (tokens_per_minute). Callers over budget wait their turn,
// first come first served, instead of failing; their signal takes them out of the line.
import { setTimeout as sleep } from 'node:timers/promises';
import { LlmError } from '../errors.ts';

/** Counting semaphore with a FIFO line of waiters. */
export class Semaphore {
  readonly limit: number;
  private active = 0;
  private readonly line: Array<{ grant: () => void } | null> = [];
  private head = 0;
  private queued = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get inUse(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queued;
  }

  /** Takes a slot if one is free and nobody waits for one. */
  tryAcquire(): boolean {
    if (this.active >= this.limit || this.head !== this.line.length) return false;
    this.active++;
    return true;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(aborted(signal));
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const index = this.line.length;
      const onAbort = () => {
        this.line[index] = null;
        this.queued--;
        reject(aborted(signal));
      };
      this.queued++;
      this.line.push({
        grant: () => {
          this.queued--;
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    while (this.head < this.line.length) {
      const next = this.line[this.head++];
      if (next) {
        next.grant();
        this.compact();
        return;
      }
    }
    this.active--;
    this.compact();
  }

  // The line is an array with a moving head so that thousands of waiters cost no O(n) shifts.
  private compact(): void {
    if (this.head === this.line.length) {
      this.line.length = 0;
      this.head = 0;
    }
  }
}

/**
 * Token bucket of `perMinute` capacity that refills continuously. The level may go below zero
 * when a call used more than its estimate; later callers then wait for the debt to refill.
 */
export class TokenBucket {
  readonly capacity: number;
  private level: number;
  private at: number;
  private readonly now: () => number;

  constructor(perMinute: number, now: () => number = Date.now) {
    this.capacity = perMinute;
    this.level = perMinute;
    this.now = now;
    this.at = now();
  }

  /** Takes `n` tokens and returns 0, or takes nothing and returns the ms until they will be there. */
  tryTake(n: number): number {
    const need = Math.min(n, this.capacity); // a request larger than a minute's budget waits for a full bucket
    this.refill();
    if (this.level >= need) {
      this.level -= need;
      return 0;
    }
    return Math.ceil(((need - this.level) * 60_000) / this.capacity);
  }

  /** Gives back (positive) or charges (negative) tokens once the real usage is known. */
  adjust(delta: number): void {
    this.refill();
    this.level = Math.min(this.capacity, this.level + delta);
  }

  private refill(): void {
    const now = this.now();
    this.level = Math.min(this.capacity, this.level + ((now - this.at) * this.capacity) / 60_000);
    this.at = now;
  }
}

/** What a caller holds while its request runs; released once, with the tokens really used. */
export interface Lease {
  release(usedTokens: number): void;
}

export class Budget {
  private readonly slots: Semaphore;
  private readonly bucket: TokenBucket | null;
  // Token waiters queue on a promise chain: each one starts waiting when the one before it is
  // served (or has given up), which keeps the order and needs one timer at a time.
  private tail: Promise<void> = Promise.resolve();
  private tokenWaiters = 0;

  constructor(maxConcurrency: number, tokensPerMinute: number, now?: () => number) {
    this.slots = new Semaphore(maxConcurrency);
    this.bucket = tokensPerMinute > 0 ? new TokenBucket(tokensPerMinute, now) : null;
  }

  get inFlight(): number {
    return this.slots.inUse;
  }

  get waiting(): number {
    return this.slots.waiting + this.tokenWaiters;
  }

  /** A lease at once when a slot and the tokens are there and nobody waits for either. */
  tryAcquire(estimatedTokens: number): Lease | undefined {
    const bucket = this.bucket;
    if (bucket && this.tokenWaiters > 0) return undefined;
    if (!this.slots.tryAcquire()) return undefined;
    if (bucket && bucket.tryTake(estimatedTokens) > 0) {
      this.slots.release();
      return undefined;
    }
    return new BudgetLease(this, estimatedTokens);
  }

  async acquire(estimatedTokens: number, signal?: AbortSignal): Promise<Lease> {
    await this.slots.acquire(signal);
    try {
      await this.takeTokens(estimatedTokens, signal);
    } catch (err) {
      this.slots.release();
      throw err;
    }
    return new BudgetLease(this, estimatedTokens);
  }

  /** Gives back a lease's slot, and the tokens it took beyond what the call used. */
  giveBack(estimatedTokens: number, usedTokens: number): void {
    this.slots.release();
    this.bucket?.adjust(Math.min(estimatedTokens, this.bucket.capacity) - usedTokens);
  }

  private async takeTokens(n: number, signal?: AbortSignal): Promise<void> {
    const bucket = this.bucket;
    if (!bucket) return;
    const before = this.tail;
    const mine = Promise.withResolvers<void>();
    this.tail = before.then(() => mine.promise);
    this.tokenWaiters++;
    try {
      await raceAbort(before, signal);
      for (let wait = bucket.tryTake(n); wait > 0; wait = bucket.tryTake(n)) {
        await sleep(wait, undefined, { signal }).catch(() => {
          throw aborted(signal);
        });
      }
    } finally {
      this.tokenWaiters--;
      mine.resolve();
    }
  }
}

class BudgetLease implements Lease {
  private readonly budget: Budget;
  private readonly estimate: number;
  private released = false;

  constructor(budget: Budget, estimate: number) {
    this.budget = budget;
    this.estimate = estimate;
  }

  release(usedTokens: number): void {
    if (this.released) return;
    this.released = true;
    this.budget.giveBack(this.estimate, usedTokens);
  }
}

function raceAbort(p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(aborted(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

function aborted(signal?: AbortSignal): LlmError {
  return new LlmError('LLM_ABORTED', 'aborted while waiting for the provider budget', { cause: signal?.reason });
}

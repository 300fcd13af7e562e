// What every conformance test gets: a fresh store on a fake clock, and more handles on the
// same data (what another process or machine would open), all closed when the test ends.
import { onTestFinished } from 'vitest';
import type { EnqueueRequest, Store, StoreOptions } from '../../../src/store/types.ts';

export interface MadeStore {
  store: Store;
  /** Another handle on the same data, opened the way another process would open it. */
  openPeer(): Promise<Store>;
  /** Removes what open made (files, keys); called after every handle was closed. */
  destroy(): Promise<void>;
}

export type MakeStore = (opts: Required<StoreOptions>) => Promise<MadeStore>;

export class FakeClock {
  now = Date.UTC(2030, 0, 1);
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface Harness {
  clock: FakeClock;
  store: Store;
  peer(): Promise<Store>;
}

export type Setup = (overrides?: Partial<Omit<StoreOptions, 'clock'>>) => Promise<Harness>;

/** How the suite calls a backend: as it is, or with every call and every answer put off to
 * a later turn of the event loop (setImmediate), so a test that passes only because a
 * backend answers before anything else runs (SQLite is synchronous inside) fails. */
export type CallMode = 'immediate' | 'deferred';

const later = () => new Promise<void>((resolve) => setImmediate(resolve));

export function deferred(store: Store): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // Synchronous by contract: nothing to defer.
      if (name === 'fault') return () => target.fault();
      if (name === 'onCancel') {
        return (listener: Parameters<Store['onCancel']>[0]) => {
          let stop: (() => void) | null = null;
          let stopped = false;
          setImmediate(() => {
            if (!stopped) stop = target.onCancel((id) => setImmediate(() => !stopped && listener(id)));
          });
          return () => {
            stopped = true;
            stop?.();
          };
        };
      }
      if (name === 'subscribe') {
        return (taskId: string, afterSeq: number, onEvent: Parameters<Store['subscribe']>[2], onEnd?: Parameters<Store['subscribe']>[3]) => {
          let stop: (() => void) | null = null;
          let stopped = false;
          setImmediate(() => {
            if (!stopped) {
              stop = target.subscribe(taskId, afterSeq, (e) => setImmediate(() => !stopped && onEvent(e)),
                onEnd && ((reason) => setImmediate(() => !stopped && onEnd(reason))));
            }
          });
          return () => {
            stopped = true;
            stop?.();
          };
        };
      }
      return async (...args: unknown[]) => {
        await later();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          await later();
        }
      };
    },
  });
}

export function makeSetup(make: MakeStore, mode: CallMode = 'immediate'): Setup {
  const wrap = mode === 'deferred' ? deferred : (s: Store) => s;
  return async (overrides = {}) => {
    const clock = new FakeClock();
    const made = await make({ queueLimit: 1000, resultTtlMs: 60_000, sessionTtlMs: 30_000, ...overrides, clock: clock.read });
    const peers: Store[] = [];
    onTestFinished(async () => {
      for (const p of peers) await p.close();
      await made.store.close();
      await made.destroy();
    });
    return {
      clock,
      store: wrap(made.store),
      peer: async () => {
        const p = await made.openPeer();
        peers.push(p);
        return wrap(p);
      },
    };
  };
}

/** A plain task request; fields can be overridden. */
export function req(overrides: Partial<EnqueueRequest> = {}): EnqueueRequest {
  return { tenant: 'acme', input: { q: 'hello' }, maxAttempts: 3, timeoutMs: 60_000, ...overrides };
}

/** Waits (real time) until check passes, for what crosses handles by polling. */
export async function eventually(check: () => void, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

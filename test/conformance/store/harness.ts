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

export function makeSetup(make: MakeStore): Setup {
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
      store: made.store,
      peer: async () => {
        const p = await made.openPeer();
        peers.push(p);
        return p;
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

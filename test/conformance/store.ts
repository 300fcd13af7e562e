// The one conformance suite every Store backend passes. A backend's test file calls
// runStoreConformance with a factory for fresh, empty stores; the suite drives time with a
// fake clock, so leases, retries and TTLs are tested without sleeping, once as it is and once
// with every call deferred (harness.ts).
import { describe } from 'vitest';
import { cancelTests } from './store/cancels.ts';
import { eventTests } from './store/events.ts';
import { makeSetup, type MakeStore } from './store/harness.ts';
import { lifecycleTests } from './store/lifecycle.ts';
import { queueTests } from './store/queue.ts';
import { sessionTests } from './store/sessions.ts';
import { stateTests } from './store/state.ts';

export type { MadeStore, MakeStore } from './store/harness.ts';

/** Runs every test twice: calling the backend as it is, and with every call deferred. */
export function runStoreConformance(name: string, makeStore: MakeStore): void {
  for (const mode of ['immediate', 'deferred'] as const) {
    describe(`Store conformance: ${name} (${mode})`, () => {
      const setup = makeSetup(makeStore, mode);
      queueTests(setup);
      lifecycleTests(setup);
      eventTests(setup);
      cancelTests(setup);
      sessionTests(setup);
      stateTests(setup);
    });
  }
}

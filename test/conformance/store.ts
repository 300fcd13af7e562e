// The one conformance suite every Store backend passes. A backend's test file calls
// runStoreConformance with a factory for fresh, empty stores; the suite drives time with a
// fake clock, so leases, retries and TTLs are tested without sleeping.
import { describe } from 'vitest';
import { cancelTests } from './store/cancels.ts';
import { eventTests } from './store/events.ts';
import { makeSetup, type MakeStore } from './store/harness.ts';
import { lifecycleTests } from './store/lifecycle.ts';
import { queueTests } from './store/queue.ts';
import { sessionTests } from './store/sessions.ts';
import { stateTests } from './store/state.ts';

export type { MadeStore, MakeStore } from './store/harness.ts';

export function runStoreConformance(name: string, makeStore: MakeStore): void {
  describe(`Store conformance: ${name}`, () => {
    const setup = makeSetup(makeStore);
    queueTests(setup);
    lifecycleTests(setup);
    eventTests(setup);
    cancelTests(setup);
    sessionTests(setup);
    stateTests(setup);
  });
}

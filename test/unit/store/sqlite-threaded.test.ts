import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openThreadedSqliteStore } from '../../../src/store/sqlite/threaded.ts';
import { runStoreConformance } from '../../conformance/store.ts';

// The store a child serves: writes batched in a thread of its own (src/store/sqlite/thread.ts).
runStoreConformance('sqlite, writes in a thread', async (opts) => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-store-'));
  const path = join(dir, 'drover.db');
  return {
    store: await openThreadedSqliteStore({ ...opts, path }),
    openPeer: () => openThreadedSqliteStore({ ...opts, path }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

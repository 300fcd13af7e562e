import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { submitAndPingWhileLocked } from '../../helpers/write-lock.ts';

afterAll(stopAll);

describe("the SQLite store's write lock held by another process", () => {
  it('keeps a child answering: a submission waits for the lock, a ping does not', async () => {
    const state = tempDir('drover-state-');
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '1'], env: { DROVER_SUPERVISOR__STATE_DIR: state } });
    expect(await submitAndPingWhileLocked((p) => d.url(p), join(state, 'drover.db'))).toEqual({ ping: 200, submissionWaiting: true, submission: 202 });
    expect(await d.stop()).toEqual({ code: 0, signal: null });
  });
});

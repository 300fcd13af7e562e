// A leaking agent against a real supervisor: an executor thread's heap is bounded, so the
// leak ends that thread (its task fails, the child lives on); and with the thread limit off,
// the supervisor's hard limit kills the child at once, even while it drains after its
// graceful replacement, instead of letting the leak run on for the whole drain.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type EnqueueRequest, type Store, type Task } from '../../../src/store/index.ts';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { sleep } from '../../helpers/http.ts';
import type { FixtureInput } from '../../unit/worker-pool/fixtures/agent.ts';

const FIXTURE = join(import.meta.dirname, '../../unit/worker-pool/fixtures/agent.ts');
const TENANT = 'acme';
let store: Store | undefined;

afterEach(async () => {
  await stopAll();
  await store?.close();
  store = undefined;
});

async function start(env: Record<string, string>): Promise<DroverProcess> {
  const stateDir = tempDir('drover-state-');
  const d = await startDrover({
    args: ['start', '--port', '0', '--children', '1'],
    env: {
      DROVER_SUPERVISOR__STATE_DIR: stateDir,
      DROVER_AUTOSCALE__ENABLED: 'false',
      DROVER_ADMIN__PORT: '0',
      DROVER_EXECUTOR__AGENT: FIXTURE,
      DROVER_EXECUTOR__THREADS: '2',
      DROVER_EXECUTOR__TASKS_PER_THREAD: '10',
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_EXECUTOR__RETRY_DELAY: '0.05',
      ...env,
    },
  });
  store = await openStore({ backend: 'sqlite', path: '', queue_limit: 100_000, result_ttl: 3600, session_ttl: 3600, cleanup_interval: 60, stateDir });
  return d;
}

async function submit(input: FixtureInput, req: Partial<EnqueueRequest> = {}): Promise<Task> {
  return (await store!.enqueue({ tenant: TENANT, input, maxAttempts: 1, timeoutMs: 120_000, ...req })).task;
}

async function settle(task: Task, timeoutMs: number): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = (await store!.get(TENANT, task.id))!;
    if (['succeeded', 'dead', 'cancelled'].includes(t.status)) return t;
    if (Date.now() > deadline) throw new Error(`task still ${t.status} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

describe('memory guards', () => {
  it('ends the executor thread of a leaking agent at its heap limit; the child and its other threads live on', async () => {
    const d = await start({ DROVER_EXECUTOR__THREAD_HEAP_MB: '96', DROVER_SUPERVISOR__MAX_RSS_MB: '4096' });
    const [pid] = d.childPids();
    const leak = await submit({ op: 'leak', mbPerSecond: 200 });
    expect(await settle(leak, 30_000)).toMatchObject({ status: 'dead', error: { code: 'AGENT_CRASHED' } });
    const after = await submit({ op: 'sleep', ms: 10 });
    expect(await settle(after, 10_000)).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(d.childPids()).toEqual([pid]);
  }, 60_000);

  it('kills a child over the hard limit at once, even while it drains; the task goes back to the queue', async () => {
    const d = await start({
      DROVER_SUPERVISOR__MAX_RSS_MB: '400',
      DROVER_SUPERVISOR__MAX_RSS_HARD_MB: '600',
      DROVER_EXECUTOR__THREAD_HEAP_MB: '0',
      // A graceful drain would give the leak half a minute more.
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '30',
      DROVER_EXECUTOR__LEASE: '1',
    });
    const [pid] = d.childPids();
    const leak = await submit({ op: 'leak', mbPerSecond: 50 });
    const replaced = await d.waitLog((l) => l.msg === 'child over memory limit; replacing' && l.childPid === pid, 30_000, 'the graceful replacement');
    const killed = await d.waitLogAfter(replaced, (l) => l.msg === 'child over hard memory limit; killing it' && l.childPid === pid, 20_000, 'the hard kill');
    expect(killed.rss as number).toBeLessThan(800 * 2 ** 20);
    const exit = await d.waitLogAfter(killed, (l) => l.msg === 'child exit' && l.childPid === pid, 5000, 'the exit');
    expect(exit.signal).not.toBeNull();
    // Its lease ran out on the killed child: the new child's reaper ends it (its one attempt).
    const done = await settle(leak, 30_000);
    expect(done).toMatchObject({ status: 'dead', attempt: 1, error: { code: 'LEASE_EXPIRED' } });
  }, 120_000);
});

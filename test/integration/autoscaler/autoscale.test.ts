import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { cli } from '../../helpers/cli.ts';
import { sleep } from '../../helpers/http.ts';
import { submit, waitAll } from '../../helpers/tasks.ts';

afterAll(stopAll);

// One child has 4 task slots; each task waits 1.5 s on the mock LLM. Decisions every 0.5 s,
// scale-down after a 4 s window, one child at a time.
const env = (runtimeDir: string) => ({
  DROVER_AUTOSCALE__ENABLED: 'true',
  DROVER_AUTOSCALE__MIN_CHILDREN: '1',
  DROVER_AUTOSCALE__MAX_CHILDREN: '3',
  DROVER_AUTOSCALE__INTERVAL: '0.5',
  DROVER_AUTOSCALE__SCALE_UP_PERIOD: '1',
  DROVER_AUTOSCALE__SCALE_DOWN_WINDOW: '4',
  DROVER_AUTOSCALE__SCALE_DOWN_PERIOD: '1',
  DROVER_AUTOSCALE__DRAIN_TIMEOUT: '20',
  DROVER_SUPERVISOR__CHILDREN: '1',
  DROVER_SUPERVISOR__RUNTIME_DIR: runtimeDir,
  DROVER_EXECUTOR__THREADS: '1',
  DROVER_EXECUTOR__TASKS_PER_THREAD: '4',
  DROVER_LLM__PROVIDERS__MOCK__MOCK_LATENCY_MS: '1500',
  DROVER_LIMITS__RATE_PER_SECOND: '1000',
  DROVER_LIMITS__BURST: '1000',
});

const readyChildren = (d: DroverProcess) => d.childPids().length;

async function waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('autoscaler', () => {
  it('a burst grows the children within a few ticks; after the window they return to the minimum; no task lost', async () => {
    const d = await startDrover({ args: ['start', '--port', '0'], env: env(tempDir('drover-run-')) });
    expect(readyChildren(d)).toBe(1);
    const base = d.url('');
    const t0 = Date.now();
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => submit(base, `burst task ${i}`)));
    const up = await d.waitLog((l) => l.msg === 'autoscale decision' && (l.desired as number) > (l.from as number), 10_000, 'scale-up decision');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(String(up.reason)).toMatch(/slots|queue/);
    await waitFor(() => readyChildren(d) === 3, 30_000, '3 ready children');
    const tasks = await waitAll(base, ids, 60_000);
    expect(tasks.map((t) => t.status)).toEqual(ids.map(() => 'succeeded'));
    for (const [i, t] of tasks.entries()) expect((t.result as { content: string }).content).toBe(`echo: burst task ${i}`);
    // Idle now: after the 4 s window the count steps down one child per period, to the floor.
    await waitFor(() => readyChildren(d) === 1, 30_000, 'back to 1 child');
    const downs = d.logs.filter((l) => l.msg === 'autoscale decision' && (l.desired as number) < (l.from as number));
    expect(downs.length).toBeGreaterThanOrEqual(2);
    expect(d.logs.some((l) => l.msg === 'scale down: draining a child')).toBe(true);
    await d.stop();
  });

  it('drover scale 3 pins 3 through a burst and an idle window; drover scale auto resumes', async () => {
    const run = tempDir('drover-run-');
    const d = await startDrover({ args: ['start', '--port', '0'], env: env(run) });
    const cenv = { DROVER_SUPERVISOR__RUNTIME_DIR: run };
    expect((await cli(['scale', '3'], cenv)).code).toBe(0);
    await waitFor(() => readyChildren(d) === 3, 15_000, '3 children');
    const base = d.url('');
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => submit(base, `pinned ${i}`)));
    await waitAll(base, ids, 60_000);
    await sleep(6_000);
    expect(readyChildren(d)).toBe(3);
    expect(d.logs.some((l) => l.msg === 'autoscale decision')).toBe(false);
    const status = JSON.parse((await cli(['status', '--json'], cenv)).stdout) as { autoscale: { pinned: boolean }; desired: number };
    expect(status.autoscale.pinned).toBe(true);
    expect(status.desired).toBe(3);
    expect((await cli(['scale', 'auto'], cenv)).code).toBe(0);
    await waitFor(() => readyChildren(d) === 1, 30_000, 'autoscaler back to the minimum');
    await d.stop();
  });
});

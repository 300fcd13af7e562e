import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { cli } from '../../helpers/cli.ts';
import { request } from '../../helpers/http.ts';

afterAll(stopAll);

interface StatusJson {
  desired: number;
  totals: { ready: number };
}

describe('drover scale', () => {
  it('takes -N, refuses more than max_children without --force, waits for ready, and answers 503 at once with 0 children', async () => {
    const run = tempDir('drover-run-');
    const env = { DROVER_SUPERVISOR__RUNTIME_DIR: run, DROVER_AUTOSCALE__MAX_CHILDREN: '2' };
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '1'], env });
    const status = async () => JSON.parse((await cli(['status', '--json'], env)).stdout) as StatusJson;

    const tooMany = await cli(['scale', '9'], env);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stdout).toMatch(/scale failed: cannot scale to 9: autoscale\.max_children is 2; the memory for tasks \(\d+ MB at \d+ MB per child\) allows \d+; add --force/);
    expect((await status()).desired).toBe(1);

    // "ok" once the new children are ready, not while they start.
    const forced = await cli(['scale', '3', '--force'], env);
    expect(forced.stdout.trim()).toBe('scale: ok (3 children ready, pinned)');
    expect(forced.code).toBe(0);
    expect((await status()).totals.ready).toBe(3);

    const down = await cli(['scale', '-2'], env);
    expect(down.stdout.trim()).toBe('scale: ok (1 child ready, pinned)');
    expect(down.code).toBe(0);
    expect(await status()).toMatchObject({ desired: 1, totals: { ready: 1 } });

    expect((await cli(['scale', '0'], env)).stdout.trim()).toBe('scale: ok (0 children ready, pinned)');
    for (const path of ['/readyz', '/v1/ping']) {
      const r = await request(d.url(path), { timeoutMs: 5_000 });
      expect(r.status, path).toBe(503);
    }

    expect((await cli(['scale', '+1'], env)).stdout.trim()).toBe('scale: ok (1 child ready, pinned)');
    expect((await request(d.url('/v1/ping'), { timeoutMs: 10_000 })).status).toBe(200);
    await d.stop();
  }, 120_000);

  it('with no command: the usage on stderr and exit 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('drover: no command given');
    expect(r.stderr).toMatch(/usage: drover <command>/);
  });
});

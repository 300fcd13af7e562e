import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll } from '../../helpers/drover.ts';
import { eventually, request } from '../../helpers/http.ts';

afterAll(stopAll);

describe('log.format', () => {
  it('pretty: readable lines from the supervisor and its children, no JSON', async () => {
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '1'], env: { DROVER_LOG__FORMAT: 'pretty' }, waitStarted: false });
    await eventually(() => / INFO \(\d+\): supervisor: started/.test(d.stdout) || d.proc.exitCode !== null, 60_000, 50);
    const lines = d.stdout.trim().split('\n');
    const listening = lines.find((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): supervisor: listening \{/.test(l));
    expect(listening).toBeDefined();
    expect(lines.some((l) => / INFO \(\d+\): child: /.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    const port = Number(/"port":(\d+)/.exec(listening!)?.[1]);
    expect((await request(`http://127.0.0.1:${port}/v1/ping`)).status).toBe(200);
    await d.stop();
  }, 90_000);
});

import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, type LogLine } from '../../helpers/drover.ts';
import { eventually, request } from '../../helpers/http.ts';

afterAll(stopAll);

describe('crash restarts', () => {
  it('children killed again and again: the node has a child back quickly every time', async () => {
    // Defaults: restart_delay 0.5 s doubling to 30 s. A backoff shared by all children gave
    // 16 s with no child at all after six crashes in a row.
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '3'] });
    const killed = new Set<number>();
    const emptyForMs: number[] = [];
    const at = (l: LogLine) => Date.parse(String(l.time));
    for (let round = 0; round < 3; round++) {
      await eventually(() => d.childPids().filter((p) => !killed.has(p)).length === 3, 60_000, 100);
      const victims = d.childPids();
      const from = d.logs.length;
      for (const pid of victims) {
        killed.add(pid);
        process.kill(pid, 'SIGKILL');
      }
      await d.waitLog((l) => d.logs.indexOf(l) >= from && l.msg === 'child ready', 60_000, 'a child back');
      // How long the supervisor left the node with no child, by its own clock: from the exit of
      // the last killed child to the first fork after the first exit (boot time is the machine's).
      const exitsOf = () => d.logs.filter((l) => l.msg === 'child exit' && victims.includes(l.childPid as number));
      await eventually(() => exitsOf().length === 3, 10_000, 20);
      const [firstExit, , lastExit] = exitsOf();
      const fork = d.logs.find((l) => d.logs.indexOf(l) > d.logs.indexOf(firstExit!) && l.msg === 'fork')!;
      emptyForMs.push(Math.max(0, at(fork) - at(lastExit!)));
    }
    // restart_delay (0.5 s) at most, plus timer slack on a loaded machine.
    for (const ms of emptyForMs) expect(ms).toBeLessThan(1_500);
    // Each slot still backs off on its own: the restart delays logged grow per slot, not per node.
    const delays = d.logs.filter((l) => l.msg === 'child crashed; restarting').map((l) => l.restartInS as number);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2);
    expect((await request(d.url('/v1/ping'))).status).toBe(200);
    await d.stop();
  }, 120_000);
});

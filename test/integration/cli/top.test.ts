// `drover top` in a real terminal (tmux, installed by scripts/ensure-test-deps.sh when missing)
// and piped.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, ROOT, startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { eventually } from '../../helpers/http.ts';

let d: DroverProcess;
const runtimeDir = tempDir('drover-run-');

beforeAll(async () => {
  execFileSync('sh', [join(ROOT, 'scripts/ensure-test-deps.sh')], { stdio: 'inherit', timeout: 300_000 });
  d = await startDrover({ args: ['start', '--port', '0', '--children', '2'], env: { DROVER_SUPERVISOR__RUNTIME_DIR: runtimeDir } });
}, 310_000);
afterAll(stopAll);

describe('drover top', () => {
  it('in a terminal: shows the children in a table, refreshing in place; q exits 0', async () => {
    // A tmux server of its own (its own socket), ended whatever happens.
    const sock = join(tempDir('drover-tmux-'), 'tmux.sock');
    const tmux = (...args: string[]) => execFileSync('tmux', ['-S', sock, ...args], { encoding: 'utf8' });
    const cmd = `env DROVER_SUPERVISOR__RUNTIME_DIR=${runtimeDir} ${process.execPath} ${MAIN} top; echo "top exited $?"; sleep 60`;
    tmux('new-session', '-d', '-x', '120', '-y', '40', cmd);
    try {
      const screen = () => tmux('capture-pane', '-p');
      const pids = d.childPids();
      expect(pids).toHaveLength(2);
      await eventually(() => pids.every((pid) => new RegExp(`^\\d+\\s+\\d+\\s+${pid}\\s+ready`, 'm').test(screen())), 20_000, 200);
      expect(screen()).toMatch(/^SLOT\s+ID\s+PID\s+STATE/m);
      expect(screen()).toMatch(/children 2 ready \/ 2 desired/);
      // In place: the uptime moves on while the table stays where it was (no scrolling output).
      const first = screen();
      await eventually(() => screen() !== first, 10_000, 200);
      expect(screen().match(/^SLOT\s/gm)).toHaveLength(1);
      tmux('send-keys', 'q');
      await eventually(() => /top exited \d+/.test(screen()), 10_000, 100);
      expect(screen()).toMatch(/top exited 0/);
    } finally {
      tmux('kill-server');
    }
  });

  it('piped: plain lines, one a refresh; a signal ends it with 0', async () => {
    const top = spawn(process.execPath, [MAIN, 'top'], { cwd: ROOT, env: { ...process.env, DROVER_SUPERVISOR__RUNTIME_DIR: runtimeDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    top.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((r) => top.once('exit', (code) => r(code)));
    try {
      await eventually(() => out.split('\n').length > 2, 15_000, 100);
    } finally {
      top.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const lines = out.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\S+ children 2\/2 conns \d+ inflight \d+ tasks \d+\/\d+ queued \d+ req\/s [\d.]+ restarts 0$/);
    expect(out).not.toContain('\x1b[');
  });
});

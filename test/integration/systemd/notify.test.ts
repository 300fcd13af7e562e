import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, startDrover, stopAll, tempDir } from '../../helpers/drover.ts';

afterAll(stopAll);

/** A notification socket that records what drover (through systemd-notify) sends. */
async function notifySocket(): Promise<{ path: string; messages: string[]; stop: () => void }> {
  const path = join(tempDir('drover-notify-'), 'notify.sock');
  const proc = spawn('python3', [join(ROOT, 'test/helpers/fixtures/notify-listener.py'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as { listening?: string; message?: string };
        buf = buf.slice(nl + 1);
        if (line.listening) resolve();
        if (line.message !== undefined) messages.push(line.message);
      }
    });
    proc.once('exit', (code) => reject(new Error(`notify listener exited ${code}`)));
  });
  return { path, messages, stop: () => proc.kill('SIGKILL') };
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('systemd notification', () => {
  it('sends READY=1 once serving, RELOADING=1 … READY=1 around a reload, STOPPING=1 on stop', async () => {
    const sock = await notifySocket();
    try {
      const d = await startDrover({ args: ['start', '--port', '0', '--children', '1'], env: { NOTIFY_SOCKET: sock.path } });
      await until(() => sock.messages.some((m) => m.includes('READY=1')), 10_000, 'READY=1');
      expect(sock.messages[0]).toMatch(/READY=1/);
      expect(sock.messages[0]).toMatch(/STATUS=1 children ready/);
      d.signal('SIGHUP');
      await d.waitLog((l) => l.msg === 'reload done', 30_000);
      await until(() => sock.messages.filter((m) => m.includes('READY=1')).length >= 2, 10_000, 'READY=1 after reload');
      const reloading = sock.messages.findIndex((m) => m.includes('RELOADING=1'));
      expect(reloading).toBeGreaterThan(0);
      expect(sock.messages[reloading]).toMatch(/MONOTONIC_USEC=\d+/);
      expect(sock.messages.slice(reloading + 1).some((m) => m.includes('READY=1'))).toBe(true);
      await d.stop();
      await until(() => sock.messages.some((m) => m.includes('STOPPING=1')), 10_000, 'STOPPING=1');
    } finally {
      sock.stop();
    }
  });
});

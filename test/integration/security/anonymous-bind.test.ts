// Issue 14 item 1: anonymous access (no API keys) is judged by the address the public socket
// really has, also when systemd passes the socket in (LISTEN_FDS) and server.host says nothing
// about it; and the shipped drover.socket with the shipped config is an install that works.
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, startDrover, stopAll, writeTemp, type StartOptions } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';

afterAll(stopAll);

/** A listening socket as systemd would hold it, handed to drover as fd 3; close our copy once drover is spawned. */
async function activated(host: string): Promise<{ port: number; options: StartOptions; close: () => void }> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, host, r));
  const port = (listener.address() as net.AddressInfo).port;
  const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
  return { port, close: () => listener.close(), options: { socketActivated: true, extraFds: [fd], env: { LISTEN_FDS: '1', DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2' }, waitStarted: false } };
}

const KEY = 'k-anonymous-bind-test';
const withKey = `[[auth.keys]]\nsha256 = "${createHash('sha256').update(KEY).digest('hex')}"\ntenant = "acme"\n`;

describe('anonymous access judged by the socket systemd passes in', () => {
  it('refuses a socket bound to 0.0.0.0 with no API keys: one line, exit 3, nothing served', async () => {
    const s = await activated('0.0.0.0');
    const d = await startDrover({ ...s.options, args: ['start'] });
    s.close();
    const { code } = await d.exitWithin(30_000);
    expect(code).toBe(3);
    expect(d.stderr.trim().split('\n')).toEqual([
      `drover: the public socket (fd 3 (systemd)) is bound to 0.0.0.0:${s.port}, not a loopback address, and no [[auth.keys]] are configured: add API keys, bind it to 127.0.0.1, or set auth.allow_anonymous = true to serve anyone who can reach the port`,
    ]);
    expect(d.logs.some((l) => l.msg === 'child ready')).toBe(false);
  });

  it('serves the same socket with API keys, and refuses a reload that removes them', async () => {
    const s = await activated('0.0.0.0');
    const file = writeTemp('drover.toml', withKey);
    const d = await startDrover({ ...s.options, args: ['start', '-c', file] });
    s.close();
    await d.waitLog((l) => l.msg === 'started', 60_000, '"started"');
    const url = `http://127.0.0.1:${s.port}/v1/tasks`;
    expect((await request(url)).status).toBe(401);
    expect((await request(url, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);

    writeFileSync(file, '# the keys removed\n');
    d.signal('SIGHUP');
    const refused = await d.nextLog((l) => l.msg.startsWith('reload refused'), 30_000, 'reload refused');
    expect(refused.error).toMatch(/bound to 0\.0\.0\.0:\d+, not a loopback address, and no \[\[auth\.keys\]\]/);
    expect((await request(url)).status).toBe(401);
    await d.stop();
  });
});

describe('the shipped units and config, installed as the README says', () => {
  const listen = /^ListenStream=(.+):(\d+)$/m.exec(readFileSync(join(ROOT, 'systemd/drover.socket'), 'utf8'));

  it('drover.socket listens on loopback only', () => {
    expect(listen?.[1]).toMatch(/^(127\.\d+\.\d+\.\d+|\[::1\])$/);
  });

  it('drover starts on that socket with config.example.toml (no API keys) and serves it', async () => {
    // The unit's address on a free port: 8080 may be taken here.
    const s = await activated(listen![1]!.replace(/^\[|\]$/g, ''));
    const d = await startDrover({ ...s.options, args: ['start', '-c', join(ROOT, 'config.example.toml')] });
    s.close();
    await Promise.race([
      d.waitLog((l) => l.msg === 'started', 60_000, '"started"'),
      d.exited.then(() => {
        throw new Error(`drover exited: ${d.stderr}`);
      }),
    ]);
    expect((await request(`http://127.0.0.1:${s.port}/v1/tasks`)).status).toBe(200);
    await d.stop();
  });
});

import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startDrover, stopAll } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';

afterAll(stopAll);

describe('bad input at start', () => {
  it('port already in use: one clear line and a non-zero exit', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const d = await startDrover({ args: ['start', '--port', String(port)], waitStarted: false });
    const { code } = await d.exited;
    blocker.close();
    expect(code).toBe(1);
    const lines = d.stderr.trim().split('\n');
    expect(lines).toEqual([`drover: cannot listen on 127.0.0.1:${port}: address already in use`]);
  });

  it('unknown flag: usage and exit 2', async () => {
    const d = await startDrover({ args: ['start', '--colour', 'blue'], waitStarted: false });
    const { code } = await d.exited;
    expect(code).toBe(2);
    expect(d.stderr).toMatch(/^drover: Unknown option '--colour'/);
    expect(d.stderr).toMatch(/usage: drover <command>/);
  });

  it('unknown command: usage and exit 2', async () => {
    const d = await startDrover({ args: ['launch'], waitStarted: false });
    expect((await d.exited).code).toBe(2);
    expect(d.stderr).toMatch(/unknown command 'launch'/);
  });
});

describe('socket activation', () => {
  it('serves on a listening fd inherited with LISTEN_FDS=1', async () => {
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as net.AddressInfo).port;
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    const d = await startDrover({ args: ['start'], socketActivated: true, extraFds: [fd], env: { LISTEN_FDS: '1' }, waitStarted: false });
    // Our copy must not accept: only the supervisor's copy of the socket should.
    listener.close();
    await d.waitLog((l) => l.msg === 'started', 30_000, 'started');
    const listening = d.logs.find((l) => l.msg === 'listening')!;
    expect(listening.where).toBe('fd 3 (systemd)');
    for (let i = 0; i < 4; i++) {
      const r = await request(`http://127.0.0.1:${port}/v1/ping`);
      expect(r.status).toBe(200);
    }
    await d.stop();
  });
});

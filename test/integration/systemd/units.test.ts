// The shipped systemd units (issue 15 items 8 and 17): they pass `systemd-analyze verify`, rate
// OK in `systemd-analyze security`, point Documentation= at a file the README's install steps
// put there, and the README's last step, `drover status`, finds the service's supervisor with
// no flags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { cli } from '../../helpers/cli.ts';
import { MAIN, ROOT, startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { createLocalUser, needsRoot, type LocalUser } from '../../helpers/local-user.ts';

afterAll(stopAll);

const SERVICE = join(ROOT, 'systemd/drover.service');
const SOCKET = join(ROOT, 'systemd/drover.socket');
const SYNC = join(ROOT, 'systemd/drover-haproxy-sync.service');
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
const noAnalyze = analyze ? undefined : 'systemd-analyze is not installed here';
// verify checks that ExecStart= exists; a stand-in /usr/local/bin/drover goes into a private
// mount namespace (unshare needs root) rather than onto this machine.
const noVerify = noAnalyze ?? (process.getuid?.() === 0 && existsSync('/usr/bin/unshare') ? undefined : 'needs root and unshare for a stand-in /usr/local/bin/drover');
const skipped = (why: string | undefined) => (why ? ` (skipped: ${why})` : '');

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** The shell lines of the README's "Install as a systemd service" block. */
function installSteps(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Install as a systemd service'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.trim().split('\n').map((l) => l.replace(/\s+#.*$/, '').trim());
}

describe('the systemd units', () => {
  it.skipIf(noVerify !== undefined)(`pass systemd-analyze verify with nothing to say${skipped(noVerify)}`, async () => {
    const script = 'mount -t tmpfs tmpfs /usr/local/bin && printf "#!/bin/sh\\n" > /usr/local/bin/drover && chmod 0755 /usr/local/bin/drover && exec "$0" verify --man=no "$@"';
    const r = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, analyze!, SERVICE, SOCKET, SYNC]);
    expect(r.stderr + r.stdout).toBe('');
    expect(r.code).toBe(0);
  });

  it.skipIf(noAnalyze !== undefined)(`rate OK in systemd-analyze security, without MemoryDenyWriteExecute${skipped(noAnalyze)}`, async () => {
    const r = await run(analyze!, ['security', '--offline=true', '--no-pager', SERVICE]);
    const level = /Overall exposure level for drover\.service: ([\d.]+) (\w+)/.exec(r.stdout);
    expect(level, r.stdout + r.stderr).not.toBeNull();
    // 6.5 MEDIUM before the hardening; what remains is the network (drover serves it), the
    // notify access systemd-notify needs, and V8's writable-executable memory.
    expect(Number(level![1])).toBeLessThan(3);
    const unit = readFileSync(SERVICE, 'utf8');
    for (const line of ['CapabilityBoundingSet=', 'ProtectClock=yes', 'ProtectKernelTunables=yes', 'ProtectKernelModules=yes', 'ProtectKernelLogs=yes', 'RestrictNamespaces=yes', 'SystemCallFilter=@system-service', 'UMask=0077', 'StateDirectoryMode=0700', 'RuntimeDirectoryMode=0700']) {
      expect(unit.split('\n')).toContain(line);
    }
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m);
    const sync = await run(analyze!, ['security', '--offline=true', '--no-pager', SYNC]);
    const syncLevel = /Overall exposure level for drover-haproxy-sync\.service: ([\d.]+) (\w+)/.exec(sync.stdout);
    expect(syncLevel, sync.stdout + sync.stderr).not.toBeNull();
    expect(Number(syncLevel![1])).toBeLessThan(3);
  });

  it('point Documentation= at a file the README install steps install', () => {
    const steps = installSteps();
    for (const unit of [SERVICE, SOCKET]) {
      const doc = /^Documentation=file:\/\/(\S+)$/m.exec(readFileSync(unit, 'utf8'))?.[1];
      expect(doc).toBeDefined();
      const installs = steps.find((l) => /\binstall\b/.test(l) && l.trim().endsWith(` ${doc}`));
      expect(installs, `no install step puts ${doc} in place`).toBeDefined();
      expect(existsSync(join(ROOT, installs!.split(/\s+/).at(-2)!))).toBe(true);
    }
  });
});

describe.skipIf(needsRoot !== undefined)(`drover status after the README install steps${skipped(needsRoot)}`, () => {
  let service: LocalUser;
  beforeAll(() => {
    service = createLocalUser();
  });
  afterAll(() => service?.remove());

  it('the steps end with `drover status`, which finds the service in /run/drover with no flags', async () => {
    expect(installSteps().at(-1)).toBe('sudo drover status');

    // The service as systemd runs it: its own user, RuntimeDirectory=drover (/run/drover, 0700,
    // the user's), StateDirectory=, the socket as fd 3. /run is a private tmpfs here, so this
    // machine's /run is untouched.
    const state = tempDir('drover-state-');
    chownSync(state, service.uid, service.gid);
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    // The checkout is bind-mounted at /run/checkout, as an installed binary would sit in a
    // directory anyone may enter: a clone under a private directory (mktemp -d is 0700) is out of
    // the service user's reach otherwise.
    const checkout = '/run/checkout';
    const inCheckout = (path: string) => (path.startsWith(`${ROOT}/`) ? checkout + path.slice(ROOT.length) : path);
    const [node, main] = [inCheckout(process.execPath), inCheckout(MAIN)];
    const script = `mount -t tmpfs -o mode=0755 tmpfs /run && install -d -m 0700 -o ${service.uid} -g ${service.gid} /run/drover && install -d -m 0755 ${checkout} && mount --bind "$0" ${checkout} && LISTEN_PID=$$ exec "$@"`;
    const d = await startDrover({
      bin: 'unshare',
      args: ['--mount', '--propagation', 'private', 'sh', '-c', script, ROOT, ...service.argv(node, [main, 'start', '-c', inCheckout(join(ROOT, 'config.example.toml'))])],
      extraFds: [fd],
      env: { LISTEN_FDS: '1', RUNTIME_DIRECTORY: '/run/drover', STATE_DIRECTORY: state, DROVER_SUPERVISOR__STATE_DIR: '', DROVER_SUPERVISOR__RUNTIME_DIR: '', DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2' },
    });
    listener.close();
    try {
      // root, in a shell: no -c, no $RUNTIME_DIRECTORY or $XDG_RUNTIME_DIR, a $TMPDIR with no drover in it.
      const shell = { RUNTIME_DIRECTORY: '', XDG_RUNTIME_DIR: '', TMPDIR: tempDir('drover-tmp-'), DROVER_SUPERVISOR__RUNTIME_DIR: '' };
      const status = await cli(['--target', String(d.pid), '--mount', '--', node, main, 'status', '--json'], shell, 'nsenter');
      expect(status.stderr).toBe('');
      expect(status.code).toBe(0);
      expect((JSON.parse(status.stdout) as { pid: number }).pid).toBe(d.pid);

      // Any other user cannot enter /run/drover: told so, not "no drover is running".
      const tmp = tempDir('drover-tmp-');
      chmodSync(tmp, 0o1777);
      const nobody = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--'];
      const denied = await cli(['--target', String(d.pid), '--mount', '--', ...nobody, node, main, 'status'], { ...shell, TMPDIR: tmp }, 'nsenter');
      expect(denied.code).toBe(1);
      expect(denied.stderr.trim().split('\n')).toEqual(['drover: cannot look into /run/drover: permission denied (run as root, or as the user drover runs as)']);
    } finally {
      // Before the service user is removed: userdel refuses a user with processes.
      await d.stop();
    }
  });
});

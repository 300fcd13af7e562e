// A throwaway second local user, for tests of what another user on the machine can do to
// drover (read its store, plant a control socket). Creating one needs root; tests skip with
// `needsRoot` as the stated reason otherwise.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { CliResult } from './cli.ts';

/** Why these tests cannot run here, or undefined when they can. */
export const needsRoot: string | undefined =
  process.getuid?.() !== 0
    ? 'needs root: it creates a throwaway user (useradd) and acts as that user (setpriv)'
    : !existsSync('/usr/sbin/useradd') || !existsSync('/usr/bin/setpriv')
      ? 'needs useradd and setpriv (util-linux) to act as a second user'
      : undefined;

export interface LocalUser {
  name: string;
  uid: number;
  gid: number;
  /** Runs a command as this user and collects its output. */
  run(cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string }): Promise<CliResult>;
  /** Starts a command as this user (stdio piped). */
  spawn(cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv }): ChildProcess;
  /** The command line that runs `cmd` as this user, for wrapping in another command. */
  argv(cmd: string, args: string[]): string[];
  remove(): void;
}

// Other test processes may be adding users at the same moment: useradd then finds
// /etc/passwd locked and exits 10; it is retried for a while.
function retry(cmd: string, args: string[]): void {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      execFileSync(cmd, args, { stdio: 'pipe' });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      execFileSync('sleep', ['0.2']);
    }
  }
}

export function createLocalUser(): LocalUser {
  const name = `drovt${randomBytes(4).toString('hex')}`;
  retry('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const argv = (cmd: string, args: string[]) => ['setpriv', '--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--', cmd, ...args];
  return {
    name,
    uid,
    gid,
    argv,
    run(cmd, args, opts = {}) {
      const [bin, ...rest] = argv(cmd, args);
      return new Promise((resolve) => {
        execFile(bin!, rest, { env: opts.env ?? process.env, cwd: opts.cwd ?? '/', timeout: 30_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        });
      });
    },
    spawn(cmd, args, opts = {}) {
      const [bin, ...rest] = argv(cmd, args);
      return spawn(bin!, rest, { env: opts.env ?? process.env, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    },
    remove() {
      retry('userdel', [name]);
    },
  };
}

// Issue 14 item 2: the store (every task's input and result) and the control socket are
// drover's user's alone, and drover refuses a state or runtime directory someone else owns or
// can write to. Checked as a second local user, the one the files must be kept from.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { request } from '../../helpers/http.ts';
import { createLocalUser, needsRoot, type LocalUser } from '../../helpers/local-user.ts';

afterAll(stopAll);

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

/** A directory every user can enter, as /var/lib is: only the modes of drover's own files protect them. */
function openParent(): string {
  const dir = tempDir('drover-private-');
  chmodSync(dir, 0o755);
  return dir;
}

describe.skipIf(needsRoot !== undefined)(`private state and runtime files, as another local user${needsRoot ? ` (skipped: ${needsRoot})` : ''}`, () => {
  let other: LocalUser;
  beforeAll(() => {
    other = createLocalUser();
  });
  afterAll(() => other?.remove());

  it('creates the state and runtime directories 0700 and the store, its -wal and -shm and the socket 0600; another user reads none of them', async () => {
    const parent = openParent();
    const state = join(parent, 'state');
    const run = join(parent, 'run');
    // The test runner's umask (022) is what drover would otherwise create its files with.
    const d = await startDrover({
      args: ['start', '--port', '0', '--children', '1'],
      env: { DROVER_SUPERVISOR__STATE_DIR: state, DROVER_SUPERVISOR__RUNTIME_DIR: run, DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2' },
    });
    const secret = `the-secret-${Date.now()}`;
    const r = await request(d.url('/v1/tasks?wait=20'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: secret }) });
    expect(r.status).toBe(200);

    const db = join(state, 'drover.db');
    expect({ state: mode(state), run: mode(run) }).toEqual({ state: '0700', run: '0700' });
    const files = [db, `${db}-wal`, `${db}-shm`, join(run, 'drover.sock')].filter((f) => existsSync(f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(Object.fromEntries(files.map((f) => [f, mode(f)]))).toEqual(Object.fromEntries(files.map((f) => [f, '0600'])));

    const read = await other.run('sh', ['-c', 'cat "$1" "$1-wal" 2>&1; sqlite3 "$1" "select input from tasks" 2>&1', 'sh', db]);
    expect(read.stdout).toMatch(/Permission denied|unable to open/);
    expect(read.stdout).not.toContain(secret);
    await d.stop();
  });

  it('refuses to start on a state directory another user owns: one line, non-zero exit', async () => {
    const state = join(openParent(), 'state');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, other.uid, other.gid);
    const d = await startDrover({ env: { DROVER_SUPERVISOR__STATE_DIR: state }, waitStarted: false });
    const { code } = await d.exitWithin(30_000);
    expect(code).not.toBe(0);
    expect(d.stderr.trim().split('\n')).toEqual([`drover: the state directory ${state} is owned by uid ${other.uid}, not uid 0; it holds drover's private files: remove it, or set supervisor.state_dir to another`]);
  });

  it.each([
    ['state', 'DROVER_SUPERVISOR__STATE_DIR', 0o777, 'every user (mode 0777)'],
    ['runtime', 'DROVER_SUPERVISOR__RUNTIME_DIR', 0o770, 'its group (mode 0770)'],
  ])('refuses to start on a %s directory others can write to', async (role, variable, dirMode, who) => {
    const dir = join(openParent(), role);
    mkdirSync(dir);
    chmodSync(dir, dirMode);
    const d = await startDrover({ env: { [variable]: dir }, waitStarted: false });
    const { code } = await d.exitWithin(30_000);
    expect(code).not.toBe(0);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
    expect(d.stderr).toContain(`drover: the ${role} directory ${dir} is writable by ${who}`);
  });
});

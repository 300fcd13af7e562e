import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { runtimeDirCandidates, SYSTEM_RUNTIME_DIR, unsafeDirReason, untrustedSocketReason, type StatLike } from '../../../src/config/paths.ts';

const ME = 1000;
const OTHER = 1001;
const DROVER = 998;

function st(kind: 'dir' | 'link' | 'file' | 'socket', uid: number, mode: number): StatLike {
  return { uid, mode, isDirectory: () => kind === 'dir', isSymbolicLink: () => kind === 'link', isSocket: () => kind === 'socket' };
}

describe('unsafeDirReason (may a directory hold drover\'s private files)', () => {
  it.each([
    ['ours, 0700', st('dir', ME, 0o40700), undefined],
    ['ours, 0755 (readable, not writable, by others)', st('dir', ME, 0o40755), undefined],
    ['ours, group-writable', st('dir', ME, 0o40770), 'is writable by its group (mode 0770)'],
    ['ours, world-writable', st('dir', ME, 0o40777), 'is writable by every user (mode 0777)'],
    ['ours, world-writable and sticky (like /tmp)', st('dir', ME, 0o41777), 'is writable by every user (mode 0777)'],
    ['another user\'s, 0700', st('dir', OTHER, 0o40700), `is owned by uid ${OTHER}, not uid ${ME}`],
    ['root\'s, 0700', st('dir', 0, 0o40700), `is owned by uid 0, not uid ${ME}`],
    ['a symbolic link', st('link', ME, 0o120777), 'is a symbolic link'],
    ['a file', st('file', ME, 0o100600), 'is not a directory'],
  ])('%s', (_, stat, reason) => expect(unsafeDirReason(stat, ME)).toBe(reason));
});

describe('untrustedSocketReason (may the CLI talk to this control socket)', () => {
  const rootRun = st('dir', 0, 0o40755); // /run
  const tmp = st('dir', 0, 0o41777); // /tmp
  const sock = (uid: number) => st('socket', uid, 0o140600);

  it.each([
    ['our own dir in /tmp, our socket', st('dir', ME, 0o40700), tmp, sock(ME), undefined],
    ['the service user\'s dir in /run (only root can make it), its socket', st('dir', DROVER, 0o40700), rootRun, sock(DROVER), undefined],
    ['another user\'s dir in /tmp (anyone can make one in our name)', st('dir', OTHER, 0o40777), tmp, sock(OTHER), `its directory is owned by uid ${OTHER}, not uid ${ME}`],
    ['our dir made world-writable', st('dir', ME, 0o40777), tmp, sock(OTHER), 'its directory is writable by every user (mode 0777)'],
    ['a dir in /run writable by others', st('dir', DROVER, 0o40777), rootRun, sock(DROVER), 'its directory is writable by every user (mode 0777)'],
    ['the service\'s dir with someone else\'s socket', st('dir', DROVER, 0o40700), rootRun, sock(OTHER), `it is owned by uid ${OTHER}, not uid ${DROVER}`],
    ['our dir with a symbolic link for a socket', st('dir', ME, 0o40700), tmp, st('link', ME, 0o120777), 'it is not a socket'],
    ['a link for a directory', st('link', ME, 0o120777), tmp, sock(ME), 'its directory is a symbolic link'],
  ])('%s', (_, dir, parent, socket, reason) => expect(untrustedSocketReason(dir, parent, socket, ME)).toBe(reason));
});

describe('runtimeDirCandidates (where the CLI looks for a supervisor)', () => {
  const config = (runtime_dir = '') => {
    const c = defaultConfig();
    c.supervisor.runtime_dir = runtime_dir;
    return c;
  };

  it('its own directory first, then the systemd service\'s', () => {
    expect(runtimeDirCandidates(config(), { XDG_RUNTIME_DIR: '/run/user/1000' })).toEqual(['/run/user/1000/drover', SYSTEM_RUNTIME_DIR]);
    expect(runtimeDirCandidates(config(), { TMPDIR: '/tmp' })[1]).toBe(SYSTEM_RUNTIME_DIR);
  });

  it('only the directory the config or systemd names', () => {
    expect(runtimeDirCandidates(config('/srv/drover/run'), {})).toEqual(['/srv/drover/run']);
    expect(runtimeDirCandidates(config(), { RUNTIME_DIRECTORY: '/run/drover' })).toEqual(['/run/drover']);
  });
});

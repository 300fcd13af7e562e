// Issue 14 item 3: another user makes drover's /tmp runtime directory first and plants a
// control socket of their own in it; `drover stop` then reported "stop: ok" to a fake while the
// real drover kept serving. Now the supervisor will not start in a runtime directory it does
// not own alone, and the CLI will not talk to a socket another user may have put there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../../helpers/cli.ts';
import { startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { createLocalUser, needsRoot, type LocalUser } from '../../helpers/local-user.ts';

afterAll(stopAll);

/** A world-writable sticky directory standing in for /tmp, with nothing of ours in it yet. */
function fakeTmp(): string {
  const dir = tempDir('drover-tmp-');
  chmodSync(dir, 0o1777);
  return dir;
}

// What the attacker runs: a socket that answers every command "ok" and notes each one.
const FAKE = `
const net = require('node:net');
const fs = require('node:fs');
const [sock, log] = process.argv.slice(1);
net.createServer((s) => {
  s.on('data', (d) => fs.appendFileSync(log, d));
  s.end(JSON.stringify({ type: 'result', ok: true, code: 0 }) + '\\n');
}).listen(sock);
`;

describe.skipIf(needsRoot !== undefined)(`a runtime directory planted by another user${needsRoot ? ` (skipped: ${needsRoot})` : ''}`, () => {
  let attacker: LocalUser;
  beforeAll(() => {
    attacker = createLocalUser();
  });
  afterAll(() => attacker?.remove());

  it('the CLI refuses the planted socket (one line, non-zero exit) and sends it nothing; the supervisor refuses the directory', async () => {
    const tmp = fakeTmp();
    const dir = join(tmp, `drover-${process.getuid!()}`);
    const log = join(tmp, 'attacker.log');
    expect((await attacker.run('sh', ['-c', 'mkdir -m 0777 "$1" && touch "$2" && chmod 0666 "$2"', 'sh', dir, log])).code).toBe(0);
    const fake = attacker.spawn(process.execPath, ['-e', FAKE, join(dir, 'drover.sock'), log]);
    try {
      const deadline = Date.now() + 20_000;
      while (!existsSync(join(dir, 'drover.sock'))) {
        if (Date.now() > deadline) throw new Error('the fake control socket never appeared');
        await new Promise((r) => setTimeout(r, 50));
      }
      // The defaults: no runtime_dir, no $RUNTIME_DIRECTORY or $XDG_RUNTIME_DIR, so $TMPDIR/drover-<uid>.
      const env = { TMPDIR: tmp, XDG_RUNTIME_DIR: '', DROVER_SUPERVISOR__RUNTIME_DIR: '' };
      const stop = await cli(['stop'], env);
      expect(stop.stdout).not.toContain('stop: ok');
      expect(stop.code).not.toBe(0);
      expect(stop.stderr.trim().split('\n')).toEqual([
        `drover: refusing the control socket ${join(dir, 'drover.sock')}: its directory is owned by uid ${attacker.uid}, not uid 0; another user may have put it there`,
      ]);
      expect(readFileSync(log, 'utf8')).toBe('');

      const d = await startDrover({ env, waitStarted: false });
      const { code } = await d.exitWithin(30_000);
      expect(code).not.toBe(0);
      expect(d.stderr.trim().split('\n')).toEqual([
        `drover: the runtime directory ${dir} is owned by uid ${attacker.uid}, not uid 0; it holds drover's private files: remove it, or set supervisor.runtime_dir to another`,
      ]);
    } finally {
      fake.kill('SIGKILL');
    }
  });

  it('a supervisor in its own /tmp directory is found and obeyed by the CLI as before', async () => {
    const tmp = fakeTmp();
    const env = { TMPDIR: tmp, XDG_RUNTIME_DIR: '', DROVER_SUPERVISOR__RUNTIME_DIR: '' };
    const d = await startDrover({ args: ['start', '--port', '0', '--children', '1'], env: { ...env, DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2' } });
    const stop = await cli(['stop'], env);
    expect(stop.stdout).toContain('stop: ok');
    expect((await d.exitWithin(30_000)).code).toBe(0);
  });
});

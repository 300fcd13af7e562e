// Temporary directories a bench makes go when it exits, however it ends: a node that fails to
// start throws before its part's own cleanup, and an error no try/finally sees skips it too
// (as bench/lib/procs.ts ends the processes a bench started).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new directory under the system's temporary one, removed when this process exits. */
export function benchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

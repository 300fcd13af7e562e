// Where the code of a child's threads lives on disk: the executor's and the SQLite store's.
// piscina starts every thread from a worker.js file beside its own index.js, and a thread can
// only load files, so inside the single binary (where nothing is a file) the prebundled copies
// embedded by scripts/build.ts are written out first (shared/research/haproxy_sea.md §2.3).
// From the source tree they are used as they are.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getAsset, isSea } from 'node:sea';
import type { Piscina } from 'piscina';

export interface ExecutorFiles {
  /** piscina's class, loaded from the directory that holds its worker.js. */
  Piscina: typeof Piscina;
  /** The thread entry (executor.ts or its bundle). */
  executor: string;
  /** The built-in example agent, run when executor.agent is empty. */
  defaultAgent: string;
  /** The SQLite store thread's entry (src/store/sqlite/thread.ts or its bundle). */
  storeThread: string;
}

/** SEA asset keys, as scripts/build.ts embeds them; each is written to the same relative path. */
export const EXECUTOR_ASSETS = ['piscina/index.js', 'piscina/worker.js', 'executor.cjs', 'agent.mjs', 'store-thread.cjs'] as const;

export function executorFiles(runtimeDir: string): ExecutorFiles {
  if (!isSea()) {
    const here = import.meta.dirname;
    return {
      Piscina: createRequire(join(here, 'files.ts'))('piscina') as typeof Piscina,
      executor: join(here, 'executor.ts'),
      defaultAgent: resolve(here, '../../examples/agent.ts'),
      storeThread: resolve(here, '../store/sqlite/thread.ts'),
    };
  }
  const dir = extract(runtimeDir);
  return {
    Piscina: createRequire(join(dir, 'piscina/index.js'))('./index.js') as typeof Piscina,
    executor: join(dir, 'executor.cjs'),
    defaultAgent: join(dir, 'agent.mjs'),
    storeThread: join(dir, 'store-thread.cjs'),
  };
}

// One directory per content hash under the runtime directory: every child of one binary
// shares it, a new binary gets a new one, and files appear whole (written aside, renamed).
function extract(runtimeDir: string): string {
  const assets = EXECUTOR_ASSETS.map((key) => [key, Buffer.from(getAsset(key))] as const);
  const hash = createHash('sha256');
  for (const [key, data] of assets) hash.update(key).update('\0').update(data);
  const dir = privateDir(runtimeDir, `executor-${hash.digest('hex').slice(0, 16)}`);
  for (const [key, data] of assets) {
    const file = join(dir, key);
    // Left by an earlier run (a stop that never finished): reused only if it is what we would write.
    if (existsSync(file) && readFileSync(file).equals(data)) continue;
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, file);
  }
  return dir;
}

/** What the binary's children extracted under the runtime directory; the supervisor calls it once they have all exited. */
export function removeExtracted(runtimeDir: string): void {
  let names: string[];
  try {
    names = readdirSync(runtimeDir);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith('executor-')) rmSync(join(runtimeDir, name), { recursive: true, force: true });
}

/** `name` under `parent` if it is a directory only we can write; else a fresh temporary one. */
function privateDir(parent: string, name: string): string {
  const dir = join(parent, name);
  try {
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return temporaryDir();
  }
  // Code is loaded from here: someone else's directory (or a link to one) is not trusted.
  const st = lstatSync(dir);
  if (st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0) return dir;
  return temporaryDir();
}

function temporaryDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drover-executor-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

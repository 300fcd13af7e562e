// Builds dist/drover: the sources bundled into one CommonJS file by esbuild, made into a
// blob by Node's single-executable support, and injected into a copy of the Node 24 that runs
// this script (the one from node_modules: the blob must come from the same binary).
// Everything is local: nothing is downloaded.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { EXECUTOR_ASSETS } from '../src/worker-pool/files.ts';
import { PAGE_ASSETS } from '../src/admin/assets.ts';
import { AGENT_TYPES_ASSET, ROUTES_TYPES_ASSET } from '../src/cli/types.ts';
import { embedLua } from './embed-lua.ts';

const root = resolve(import.meta.dirname, '..');
const dist = join(root, 'dist');
const bundle = join(dist, 'drover.cjs');
const blob = join(dist, 'sea-prep.blob');
const exe = join(dist, 'drover');
const executorDir = join(dist, 'executor');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: [join(root, 'src/main.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  outfile: bundle,
  logLevel: 'warning',
  legalComments: 'none',
  // Only the source tree reads import.meta.dirname (to find the executor files); in the
  // binary those files come from the assets below.
  define: { 'import.meta.dirname': '__dirname' },
  // The Redis store's Lua scripts, embedded as strings.
  plugins: [embedLua],
});

// Executor and store threads load files, and piscina starts each thread from the worker.js
// beside its index.js, so these are bundled apart, embedded as assets and written out by the
// child at start (src/worker-pool/files.ts). Their asset keys are their paths under dist/executor.
const separate = { bundle: true, platform: 'node', target: 'node24', logLevel: 'warning', legalComments: 'none' } as const;
const piscina = join(root, 'node_modules/piscina/dist');
await Promise.all([
  // @napi-rs/nice is piscina's optional native module (niceIncrement), which we do not use.
  build({ ...separate, format: 'cjs', entryPoints: [join(piscina, 'main.js')], outfile: join(executorDir, 'piscina/index.js'), external: ['@napi-rs/nice'] }),
  build({ ...separate, format: 'cjs', entryPoints: [join(piscina, 'worker.js')], outfile: join(executorDir, 'piscina/worker.js'), external: ['@napi-rs/nice'] }),
  build({ ...separate, format: 'cjs', entryPoints: [join(root, 'src/worker-pool/executor.ts')], outfile: join(executorDir, 'executor.cjs') }),
  build({ ...separate, format: 'esm', entryPoints: [join(root, 'examples/agent.ts')], outfile: join(executorDir, 'agent.mjs') }),
  // A child's SQLite writes run on a thread of their own, started from a file too.
  build({ ...separate, format: 'cjs', entryPoints: [join(root, 'src/store/sqlite/thread.ts')], outfile: join(executorDir, 'store-thread.cjs') }),
]);

const seaConfig = join(dist, 'sea-config.json');
writeFileSync(seaConfig, JSON.stringify({
  main: bundle,
  output: blob,
  disableExperimentalSEAWarning: true,
  useSnapshot: false,
  useCodeCache: true,
  // The status page's files (src/admin/assets.ts) are embedded as they are.
  assets: {
    ...Object.fromEntries(EXECUTOR_ASSETS.map((key) => [key, join(executorDir, key)])),
    ...Object.fromEntries(Object.entries(PAGE_ASSETS).map(([key, path]) => [key, join(root, path)])),
    // `drover types` prints it (src/cli/types.ts).
    [AGENT_TYPES_ASSET]: join(root, 'src/agent/types.ts'),
    [ROUTES_TYPES_ASSET]: join(root, 'src/http/plugin-types.ts'),
  },
}, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });

copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
// postject's ELF library (LIEF) warns about the `.note` sections of Node's binary, nine lines
// on every build; the binary is fine (nodejs/postject#83), so those lines alone are dropped.
const HARMLESS = /^warning: Can't find string offset for section name '\.note(\.\d+)?'$/;
const injected = spawnSync(join(root, 'node_modules/.bin/postject'), [
  exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
], { encoding: 'utf8' });
const said = `${injected.stdout}${injected.stderr}`.split('\n').filter((l) => l.trim() !== '' && !HARMLESS.test(l));
if (injected.status !== 0) throw new Error(`postject failed (${injected.error?.message ?? `exit ${injected.status}`}):\n${said.join('\n')}`);
for (const line of said) console.log(line);
rmSync(blob);
console.log(`built ${exe}`);

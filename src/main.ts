import cluster from 'node:cluster';
import { CHILD_ID_ENV } from './ipc/env.ts';

// One entry for every role: the cluster primary runs the CLI (and, for `start`, the
// supervisor); a forked child serves HTTP. Each role loads only its own modules: a child has no
// use for the supervisor's, and `drover status` none for either (the whole graph took a
// command 0.8 s to load). The single binary starts here too, bundled as CommonJS (esbuild
// turns these imports into lazy requires), so there is no top-level await.
const failed = (who: string) => (err: unknown) => {
  process.stderr.write(`${who}: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
};
if (cluster.isWorker) {
  // The supervisor's mask is inherited; set again so a child's files stay private whoever forks it.
  process.umask(0o077);
  process.title = `drover: child ${process.env[CHILD_ID_ENV] ?? ''}`.trim();
  import('./child/main.ts').then(({ runChild }) => runChild()).catch(failed('drover child'));
} else {
  if (process.argv.slice(2).includes('start')) process.title = 'drover: supervisor';
  import('./cli/main.ts').then(({ main }) => main(process.argv.slice(2))).then((code) => {
    process.exitCode = code;
  }, failed('drover'));
}

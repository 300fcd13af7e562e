import cluster from 'node:cluster';
import { runChild } from './child/main.ts';
import { main } from './cli/main.ts';
import { CHILD_ID_ENV } from './ipc/env.ts';

// One entry for every role: the cluster primary runs the CLI (and, for `start`, the
// supervisor); a forked child serves HTTP. The single binary starts here too, bundled as
// CommonJS, so there is no top-level await.
if (cluster.isWorker) {
  // The supervisor's mask is inherited; set again so a child's files stay private whoever forks it.
  process.umask(0o077);
  process.title = `drover: child ${process.env[CHILD_ID_ENV] ?? ''}`.trim();
  runChild().catch((err: unknown) => {
    process.stderr.write(`drover child: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else {
  if (process.argv.slice(2).includes('start')) process.title = 'drover: supervisor';
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

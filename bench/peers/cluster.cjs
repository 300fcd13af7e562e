'use strict';
// Plain node:cluster primary for the balancer benchmark: forks WORKERS copies of server.cjs.
// The scheduling policy comes from NODE_CLUSTER_SCHED_POLICY (rr = SCHED_RR, the default on
// Linux; none = SCHED_NONE, every worker accepts on the shared socket).
const cluster = require('node:cluster');
const path = require('node:path');

const workers = Number(process.env.WORKERS || 2);
cluster.setupPrimary({ exec: path.join(__dirname, 'server.cjs'), silent: false });

let listening = 0;
cluster.on('listening', () => {
  listening++;
  if (listening === workers) {
    const policy = cluster.schedulingPolicy === cluster.SCHED_RR ? 'rr' : 'none';
    console.log(JSON.stringify({ msg: 'started', pid: process.pid, workers, policy }));
  }
});
cluster.on('exit', (worker, code, signal) => {
  if (!stopping) {
    console.error(JSON.stringify({ msg: 'worker died', pid: worker.process.pid, code, signal }));
    process.exit(1);
  }
});
for (let i = 0; i < workers; i++) cluster.fork();

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  cluster.disconnect(() => process.exit(0));
  setTimeout(() => process.exit(1), 5000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

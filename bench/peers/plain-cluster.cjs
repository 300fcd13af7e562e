'use strict';
// The user's yardstick for a cheap request: plain node:cluster (round robin, Node's default on
// Linux) serving the same tiny fastify route with Node's and fastify's default settings (no
// request cap per connection, default timeouts). Env: PORT, WORKERS (2).
const cluster = require('node:cluster');

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS || 2);
  let up = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++up === workers) console.log(JSON.stringify({ msg: 'started', pid: process.pid, workers }));
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.kill();
    process.exit(0);
  });
} else {
  const app = require('fastify')();
  app.get('/v1/ping', async () => ({ pong: true, child: cluster.worker.id, pid: process.pid }));
  app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
}

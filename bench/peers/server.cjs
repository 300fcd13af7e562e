'use strict';
// The peers' HTTP app: the same fastify routes and server settings as a drover child
// (src/http/app.ts, and the routes plugin test/fixtures/test-routes.ts), so that in the balancer benchmark only the process
// model differs. Started alone (one process), by cluster.cjs (node:cluster) or by PM2.
// Env: PORT, HOST (127.0.0.1), KEEP_ALIVE_MS, REQUEST_TIMEOUT_MS, HEADERS_TIMEOUT_MS and
// MAX_REQUESTS_PER_SOCKET, which bench/lib/servers.ts sets from drover's config defaults.
const http = require('node:http');
const Fastify = require('fastify');

const num = (name, def) => (process.env[name] === undefined ? def : Number(process.env[name]));
const keepAliveTimeout = num('KEEP_ALIVE_MS', 5000);
const requestTimeout = num('REQUEST_TIMEOUT_MS', 360000);
const headersTimeout = num('HEADERS_TIMEOUT_MS', 10000);
const maxRequestsPerSocket = num('MAX_REQUESTS_PER_SOCKET', 0) || null;

function spin(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

const ms = (query) => Math.max(0, Number(query.ms ?? 0) || 0);

const app = Fastify({
  logger: false,
  keepAliveTimeout,
  requestTimeout,
  serverFactory: (handler) => {
    const server = http.createServer({ keepAliveTimeout, requestTimeout, headersTimeout }, handler);
    server.maxRequestsPerSocket = maxRequestsPerSocket;
    return server;
  },
});

app.get('/v1/ping', async () => ({ pong: true, child: 0, pid: process.pid }));
app.get('/debug/spin', async (req) => {
  spin(ms(req.query));
  return { child: 0, pid: process.pid };
});
app.get('/debug/hold', async (req) => {
  await new Promise((r) => setTimeout(r, ms(req.query)));
  return { child: 0, pid: process.pid };
});

app.listen({ host: process.env.HOST || '127.0.0.1', port: num('PORT', 3100) }).then(
  (address) => console.log(JSON.stringify({ msg: 'listening', pid: process.pid, address })),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

// Under node:cluster the primary ends workers by disconnecting them; alone, SIGTERM ends us.
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
process.on('SIGINT', () => app.close().then(() => process.exit(0)));

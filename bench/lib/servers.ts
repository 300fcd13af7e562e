// The contestants: drover and its peers running the same fastify app (bench/peers/server.cjs) under node:cluster SCHED_RR,
// SCHED_NONE, PM2 cluster mode, and alone. Each start() returns a server that is ready and warm
// enough to answer from every child; stop() ends it and everything it started. node:cluster's
// SCHED_RR is the round robin drover is measured against (drover's own comparison modes,
// round robin and the supervisor accepting every connection, were dropped in issue 16; their
// last numbers are in bench/RESULTS.md).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultConfig } from '../../src/config/defaults.ts';
import { runCommand, startProcess, stopProcess, waitForLine } from './procs.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The routes plugin the tests load too (test/fixtures/test-routes.ts). */
const TEST_ROUTES = join(ROOT, 'test/fixtures/test-routes.ts');
const BIN = join(ROOT, 'node_modules/.bin');
const NODE = join(BIN, 'node');
const PM2 = join(BIN, 'pm2');
const PEER = join(ROOT, 'bench/peers/server.cjs');
const CLUSTER = join(ROOT, 'bench/peers/cluster.cjs');
/** The user's yardstick for a cheap request: node:cluster with Node's and fastify's defaults (issue 16 item 6). */
const PLAIN_CLUSTER = join(ROOT, 'bench/peers/plain-cluster.cjs');
const CHILDREN = 2;

export type VariantKey = 'drover-ll' | 'node-rr' | 'node-none' | 'node-plain' | 'pm2' | 'single';

export interface Running {
  port: number;
  /** Process trees to count as ours that are not our descendants (PM2's daemon). */
  cpuRoots: number[];
  /** Warnings and errors the server logged, for the report. */
  warnings: string[];
  /** False once the server has gone away by itself (crashed, or was signalled by someone else). */
  alive(): boolean;
  stop(): Promise<void>;
}

export interface Variant {
  key: VariantKey;
  label: string;
  children: number;
  start(): Promise<Running>;
}

/** The HTTP settings of a drover child, given to the peers so that only the process model differs. */
function peerEnv(port: number): NodeJS.ProcessEnv {
  const s = defaultConfig().server;
  return {
    ...process.env,
    PATH: `${BIN}:${process.env.PATH ?? ''}`,
    HOST: '127.0.0.1',
    PORT: String(port),
    KEEP_ALIVE_MS: String(s.keep_alive_timeout * 1000),
    REQUEST_TIMEOUT_MS: String(s.request_timeout * 1000),
    HEADERS_TIMEOUT_MS: String(s.header_timeout * 1000),
    MAX_REQUESTS_PER_SOCKET: String(s.max_requests_per_connection),
  };
}

/** Stopping twice (after an error, then in the caller's finally) must not run the steps twice. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolvePort(port));
    });
  });
}

function ping(port: number): Promise<string | undefined> {
  return new Promise((done) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v1/ping', agent: false, headers: { connection: 'close' }, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
        try {
          done(String((JSON.parse(body) as { pid: number }).pid));
        } catch {
          done(undefined);
        }
      });
    });
    req.on('error', () => done(undefined));
    req.on('timeout', () => req.destroy());
  });
}

/** Until every child has answered once (bounded): the server is up and each child's routes are compiled. */
async function waitServing(port: number, children: number, timeoutMs = 20_000): Promise<void> {
  const pids = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 2000 && Date.now() < deadline && pids.size < children; i++) {
    const pid = await ping(port);
    if (pid) pids.add(pid);
    else await new Promise((r) => setTimeout(r, 50));
  }
  if (pids.size === 0) throw new Error(`nothing answers on 127.0.0.1:${port}`);
  if (pids.size < children) process.stderr.write(`warning: only ${pids.size} of ${children} children answered on port ${port}\n`);
}

/** Polls until `pid` no longer exists (or is a zombie waiting for its parent), for at most `ms`. */
async function gone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited <= ms; waited += 100) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function drover(key: VariantKey, label: string): Variant {
  return {
    key,
    label,
    children: CHILDREN,
    async start() {
      // Its own working directory, so no drover.toml of the checkout is used.
      const cwd = mkdtempSync(join(tmpdir(), 'drover-bench-'));
      const warnings: string[] = [];
      let stopping = false;
      let stoppedUnasked = false;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${BIN}:${process.env.PATH ?? ''}`,
        // /debug/spin and /debug/hold: the mixed workloads' heavy and long-lived handlers, as a
        // user's routes plugin (drover has no such routes of its own).
        DROVER_HTTP__PLUGIN: TEST_ROUTES,
        DROVER_AUTOSCALE__ENABLED: 'false',
        DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '10',
        // Control socket and admin port of its own: another drover on this machine (a test
        // run, a developer's) must neither block this one nor be reached by it.
        DROVER_SUPERVISOR__RUNTIME_DIR: cwd,
        DROVER_SUPERVISOR__STATE_DIR: join(cwd, 'state'),
        DROVER_ADMIN__PORT: '0',
      };
      const m = startProcess(label, NODE, [join(ROOT, 'src/main.ts'), 'start', '--port', '0', '--children', String(CHILDREN)], {
        env,
        cwd,
        onLine: (line) => {
          // Warnings, errors, and the reason of any stop we did not ask for.
          if (line.includes('"msg":"stopping"') && !stopping) stoppedUnasked = true;
          const notable = /"level":(4|5|6)\d/.test(line) || (line.includes('"msg":"stopping"') && !stopping);
          if (notable && warnings.length < 50) warnings.push(line.slice(0, 400));
        },
      });
      const stop = once(async () => {
        stopping = true;
        if (m.exitedAlready) warnings.push(`exited before it was stopped (${JSON.stringify(await m.exited)}); last lines: ${m.lines.slice(-5).join(' ')}`);
        await stopProcess(m, 'SIGTERM', 20_000);
        if (m.stderr.trim()) warnings.push(`stderr: ${m.stderr.trim().slice(-400)}`);
        rmSync(cwd, { recursive: true, force: true });
      });
      try {
        const listening = await waitForLine(m, (l) => l.includes('"msg":"listening"'), 30_000);
        await waitForLine(m, (l) => l.includes('"msg":"started"'), 30_000);
        const port = (JSON.parse(listening) as { port: number }).port;
        await waitServing(port, CHILDREN);
        return { port, cpuRoots: [], warnings, stop, alive: () => !m.exitedAlready && !stoppedUnasked };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

function nodeCluster(key: VariantKey, label: string, policy: 'rr' | 'none'): Variant {
  return {
    key,
    label,
    children: CHILDREN,
    async start() {
      const port = await freePort();
      const m = startProcess(label, NODE, [CLUSTER], { env: { ...peerEnv(port), WORKERS: String(CHILDREN), NODE_CLUSTER_SCHED_POLICY: policy } });
      const stop = once(() => stopProcess(m, 'SIGTERM', 10_000));
      try {
        const started = await waitForLine(m, (l) => l.includes('"msg":"started"'), 30_000);
        if ((JSON.parse(started) as { policy: string }).policy !== policy) throw new Error(`${label}: cluster did not take policy ${policy}`);
        await waitServing(port, CHILDREN);
        return { port, cpuRoots: [], warnings: [], stop, alive: () => !m.exitedAlready };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

/**
 * node:cluster round robin serving the ping route with Node's and fastify's default settings:
 * no request cap per connection, default timeouts (peerEnv's drover settings are not passed).
 * Measured on keep-alive only, where it is the yardstick of issue 16 item 6.
 */
function plainCluster(): Variant {
  return {
    key: 'node-plain',
    label: 'node:cluster, defaults',
    children: CHILDREN,
    async start() {
      const port = await freePort();
      const m = startProcess('plain node:cluster', NODE, [PLAIN_CLUSTER], { env: { ...process.env, PORT: String(port), WORKERS: String(CHILDREN) } });
      const stop = once(() => stopProcess(m, 'SIGTERM', 10_000));
      try {
        await waitForLine(m, (l) => l.includes('"msg":"started"'), 30_000);
        await waitServing(port, CHILDREN);
        return { port, cpuRoots: [], warnings: [], stop, alive: () => !m.exitedAlready };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

function pm2(): Variant {
  return {
    key: 'pm2',
    label: 'PM2 cluster',
    children: CHILDREN,
    async start() {
      const port = await freePort();
      const home = mkdtempSync(join(tmpdir(), 'pm2-bench-'));
      const env = { ...peerEnv(port), PM2_HOME: home };
      let daemon: number | undefined;
      const warnings: string[] = [];
      const stop = once(async () => {
        const r = await runCommand('pm2 kill', PM2, ['kill'], 30_000, { env });
        if (r.code !== 0) warnings.push(`pm2 kill exited with ${r.code}: ${r.stderr.slice(-300)}`);
        // pm2 kill ends its daemon and apps; should it fail, the daemon's pid is ended here.
        if (daemon !== undefined && !(await gone(daemon, 5000))) {
          process.kill(daemon, 'SIGKILL');
          warnings.push(`PM2 daemon ${daemon} was still running 5 s after pm2 kill; killed`);
        }
        rmSync(home, { recursive: true, force: true });
      });
      try {
        const r = await runCommand('pm2 start', PM2, ['start', PEER, '-i', String(CHILDREN), '--name', 'bench-peer'], 60_000, { env });
        const pidFile = join(home, 'pm2.pid');
        if (existsSync(pidFile)) daemon = Number(readFileSync(pidFile, 'utf8').trim());
        if (r.code !== 0) throw new Error(`pm2 start exited with ${r.code}: ${r.stderr.slice(-500)}`);
        await waitServing(port, CHILDREN);
        return { port, cpuRoots: daemon ? [daemon] : [], warnings, stop, alive: () => daemon !== undefined && existsSync(`/proc/${daemon}`) };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

function single(): Variant {
  return {
    key: 'single',
    label: 'one process',
    children: 1,
    async start() {
      const port = await freePort();
      const m = startProcess('one process', NODE, [PEER], { env: peerEnv(port) });
      const stop = once(() => stopProcess(m, 'SIGTERM', 10_000));
      try {
        await waitForLine(m, (l) => l.includes('"msg":"listening"'), 30_000);
        await waitServing(port, 1);
        return { port, cpuRoots: [], warnings: [], stop, alive: () => !m.exitedAlready };
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

export const VARIANTS: readonly Variant[] = [
  drover('drover-ll', 'drover least-load'),
  nodeCluster('node-rr', 'node:cluster SCHED_RR', 'rr'),
  nodeCluster('node-none', 'node:cluster SCHED_NONE', 'none'),
  plainCluster(),
  pm2(),
  single(),
];

export function pm2Version(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules/pm2/package.json'), 'utf8')) as { version: string }).version;
}

// A real redis-server for tests: its own process on a free loopback port (never 6379), its
// own temp dir, no persistence unless a test asks for AOF, stopped by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_SERVER = existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';

// Servers not stopped by the time this process exits (a test that threw, a script that did
// not reach its stop) are killed then, so none outlives the run.
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
const READY_TIMEOUT_MS = 15_000;

export interface RedisServer {
  port: number;
  url: string;
  pid: number;
  dir: string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its dir unless keepDir. */
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

export interface RedisServerOptions {
  /** appendonly yes, appendfsync everysec (default: no persistence at all). */
  aof?: boolean;
  /** Reuse a dir (restart on the same AOF files). */
  dir?: string;
  /** Reuse a port (restart at the same address). */
  port?: number;
  args?: string[];
  /** Run as a sentinel from this config file (in `dir`; sentinels rewrite their config). */
  sentinelConfig?: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function waitReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server not ready in ${READY_TIMEOUT_MS} ms:\n${out}`)), READY_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      // A sentinel is ready once it monitors its master.
      if (out.includes('Ready to accept connections') || out.includes('+monitor master')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code} before it was ready:\n${out}`));
    });
  });
}

async function startOnce(opts: RedisServerOptions, port: number, dir: string): Promise<RedisServer> {
  const persistence = opts.aof
    ? ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '']
    : ['--appendonly', 'no', '--save', ''];
  const child = spawn(REDIS_SERVER, [
    ...(opts.sentinelConfig ? [opts.sentinelConfig, '--sentinel'] : []),
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--logfile', '',
    '--daemonize', 'no', '--protected-mode', 'yes',
    ...(opts.sentinelConfig ? [] : ['--maxmemory-policy', 'noeviction', ...persistence]), ...(opts.args ?? []),
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  running.add(child.pid as number);
  void exited.then(() => running.delete(child.pid as number));
  await waitReady(child);
  const pid = child.pid as number;
  return {
    port, dir, pid, url: `redis://127.0.0.1:${port}`,
    stop: async ({ keepDir = false } = {}) => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        const killer = setTimeout(() => process.kill(pid, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      if (!keepDir && !opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts redis-server; a port taken between probing and binding is retried on another. */
export async function startRedis(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'drover-redis-'));
  for (let tries = 0; ; tries++) {
    const port = opts.port ?? (await freePort());
    if (port === 6379) continue;
    try {
      return await startOnce(opts, port, dir);
    } catch (err) {
      if (opts.port !== undefined || tries >= 3) throw err;
    }
  }
}

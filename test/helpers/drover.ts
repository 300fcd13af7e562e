import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MAIN = join(ROOT, 'src/main.ts');
/** A routes plugin with /debug/hold, /spin, /hang, /alloc and /exit (test/fixtures/test-routes.ts). */
export const TEST_ROUTES = join(ROOT, 'test/fixtures/test-routes.ts');

export interface LogLine {
  msg: string;
  role?: string;
  pid: number;
  child?: number;
  [k: string]: unknown;
}

export interface StartOptions {
  /** Arguments after the binary; default `start --port 0`. */
  args?: string[];
  /** TOML text written to a temp file and passed with -c. */
  config?: string;
  env?: Record<string, string>;
  /** Run this executable instead of `node src/main.ts` (the single binary). */
  bin?: string;
  cwd?: string;
  /** Wait for the supervisor's "started" line (default true). */
  waitStarted?: boolean;
  /** Extra stdio entries from fd 3 on (socket activation). */
  extraFds?: number[];
  /** Run through `sh -c 'LISTEN_PID=$$ exec …'` so LISTEN_PID names the drover process. */
  socketActivated?: boolean;
  /** Load TEST_ROUTES as the [http] plugin (by DROVER_HTTP__PLUGIN, so env may still override it). */
  testRoutes?: boolean;
}

/** A drover supervisor started as a real process, with its log lines parsed. */
export class DroverProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  stdout = '';
  port = 0;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  readonly proc: ChildProcess;

  constructor(proc: ChildProcess) {
    this.proc = proc;
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let parsed: LogLine;
        try {
          parsed = JSON.parse(line) as LogLine;
        } catch {
          continue;
        }
        this.logs.push(parsed);
        if (parsed.msg === 'listening' && typeof parsed.port === 'number') this.port = parsed.port;
        this.waiters = this.waiters.filter((w) => (w.pred(parsed) ? (w.resolve(parsed), false) : true));
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs = 20_000, what = 'log line'): Promise<LogLine> {
    const seen = this.logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr:\n${this.stderr.slice(-2000)}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }

  /** Waits for a matching line that appears after now. */
  nextLog(pred: (l: LogLine) => boolean, timeoutMs = 20_000, what = 'log line'): Promise<LogLine> {
    const from = this.logs.length;
    return this.waitLog((l) => this.logs.indexOf(l) >= from && pred(l), timeoutMs, what);
  }

  /** Waits for a matching line logged after `after`. */
  waitLogAfter(after: LogLine, pred: (l: LogLine) => boolean, timeoutMs = 20_000, what = 'log line'): Promise<LogLine> {
    const from = this.logs.indexOf(after);
    return this.waitLog((l) => this.logs.indexOf(l) > from && pred(l), timeoutMs, what);
  }

  /** Pids of the children that are ready, not draining and not exited, from the supervisor's log. */
  childPids(): number[] {
    const live = new Map<number, number>();
    const gone = new Set(['child exit', 'draining replaced child', 'scale down: draining a child', 'child hung; replacing']);
    for (const l of this.logs) {
      if (l.role !== 'supervisor') continue;
      if (l.msg === 'child ready') live.set(l.child!, l.childPid as number);
      if (gone.has(l.msg)) live.delete(l.child!);
    }
    return [...live.values()];
  }

  /** The exit status, or an error if the process is still running after `ms`. */
  exitWithin(ms: number): Promise<{ code: number | null; signal: string | null }> {
    return Promise.race([
      this.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${ms} ms; stderr:\n${this.stderr}`)), ms).unref()),
    ]);
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  async stop(timeoutMs = 20_000): Promise<{ code: number | null; signal: string | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.killGroup(), timeoutMs);
    const r = await this.exited;
    clearTimeout(timer);
    this.killGroup();
    return r;
  }

  /** Ends the supervisor and every child by the process group the supervisor leads. */
  killGroup(): void {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const started = new Set<DroverProcess>();
/** Every directory tempDir made for this test file (startDrover's state, runtime and config
 * ones included): removed after the file's tests and its own afterAll hooks, so after its
 * stopAll (vitest runs after-hooks in reverse order, and this one is registered first). */
const madeDirs = new Set<string>();
afterAll(() => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
  madeDirs.clear();
});

export function tempDir(prefix = 'drover-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.add(dir);
  return dir;
}

export async function startDrover(opts: StartOptions = {}): Promise<DroverProcess> {
  const args = [...(opts.args ?? ['start', '--port', '0'])];
  if (opts.config !== undefined) {
    const file = join(tempDir(), 'drover.toml');
    writeFileSync(file, opts.config);
    args.push('-c', file);
  }
  // Each drover gets its own state and runtime directories: test files run in parallel and
  // must not share a store or a control socket.
  const env = {
    ...process.env,
    ...(opts.testRoutes && { DROVER_HTTP__PLUGIN: TEST_ROUTES }),
    DROVER_AUTOSCALE__ENABLED: 'false',
    DROVER_ADMIN__PORT: '0',
    DROVER_SUPERVISOR__STATE_DIR: opts.env?.DROVER_SUPERVISOR__STATE_DIR ?? tempDir('drover-state-'),
    DROVER_SUPERVISOR__RUNTIME_DIR: opts.env?.DROVER_SUPERVISOR__RUNTIME_DIR ?? tempDir('drover-run-'),
    ...opts.env,
  };
  const stdio = ['ignore', 'pipe', 'pipe', ...(opts.extraFds ?? [])] as const;
  const [cmd, cmdArgs] = opts.bin ? [opts.bin, args] : [process.execPath, [MAIN, ...args]];
  const proc = opts.socketActivated
    ? spawn('sh', ['-c', 'LISTEN_PID=$$ exec "$@"', 'sh', cmd, ...cmdArgs], { cwd: opts.cwd ?? ROOT, env, stdio: [...stdio], detached: true })
    : spawn(cmd, cmdArgs, { cwd: opts.cwd ?? ROOT, env, stdio: [...stdio], detached: true });
  const d = new DroverProcess(proc);
  started.add(d);
  void d.exited.then(() => started.delete(d));
  if (opts.waitStarted !== false) {
    await Promise.race([
      d.waitLog((l) => l.msg === 'started', 60_000, '"started"'),
      d.exited.then(({ code }) => {
        throw new Error(`drover exited with ${code} before starting:\n${d.stderr}`);
      }),
    ]);
  }
  return d;
}

/** Kills every drover a test file started and did not stop (call from afterAll/afterEach). */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((d) => d.stop(5_000)));
}

export function writeTemp(name: string, text: string): string {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  return file;
}

/** Which child answered a request, on which connection, and how long it took. */
export interface AgentAnswer {
  status: number;
  pid: number;
  /** The client's port: the same for every request on one keep-alive connection. */
  localPort: number;
  ms: number;
}

/** One request to a route that answers its child's pid (/v1/ping, /debug/*) through `agent`, as a keep-alive client sends it. */
export function viaAgent(d: { url(path: string): string }, agent: http.Agent, path: string): Promise<AgentAnswer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(d.url(path), { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({
        status: res.statusCode!,
        pid: (JSON.parse(body) as { pid: number }).pid,
        localPort: req.socket!.localPort!,
        ms: performance.now() - t0,
      }));
    });
    req.on('error', reject);
  });
}

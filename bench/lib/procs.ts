// Every process the benchmark starts goes through here, so that each one is ended by its pid
// (and its process group) even when the run fails or is interrupted.
import { spawn, type ChildProcess } from 'node:child_process';

const KEEP_LINES = 200;

export interface Managed {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The last stdout lines (bounded: servers log for minutes). */
  readonly lines: string[];
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedAlready: boolean;
}

const live = new Set<Managed>();
const lineWaiters = new Map<Managed, ((line: string) => void)[]>();
// However the bench ends, including an error no try/finally sees (a rejection nobody awaited).
process.on('exit', () => killEverything());

/**
 * Starts a process in its own process group (a terminal's Ctrl-C reaches only us; we then end
 * it ourselves) with stdout read line by line. `onLine` sees every line, kept or not.
 */
export function startProcess(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void } = {},
): Managed {
  const proc = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const m: Managed = {
    name,
    proc,
    pid: proc.pid,
    lines: [],
    stderr: '',
    exitedAlready: false,
    exited: new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  void m.exited.then(() => {
    m.exitedAlready = true;
    live.delete(m);
  });
  live.add(m);
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      m.lines.push(line);
      if (m.lines.length > KEEP_LINES) m.lines.shift();
      opts.onLine?.(line);
      for (const w of lineWaiters.get(m) ?? []) w(line);
    }
  });
  proc.stdout!.on('end', () => {
    if (buf) m.lines.push(buf);
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    m.stderr = (m.stderr + chunk).slice(-8000);
  });
  proc.on('error', () => {});
  return m;
}

/** Resolves with the first stdout line (from now on) that matches; rejects on exit or timeout. */
export function waitForLine(m: Managed, match: (line: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const waiters = lineWaiters.get(m) ?? [];
    lineWaiters.set(m, waiters);
    const done = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      waiters.splice(waiters.indexOf(onLine), 1);
      if (err) reject(err);
      else resolve(line!);
    };
    const onLine = (line: string) => {
      if (match(line)) done(null, line);
    };
    waiters.push(onLine);
    const timer = setTimeout(() => done(new Error(`${m.name}: not ready after ${timeoutMs} ms; stderr: ${m.stderr.slice(-500)}`)), timeoutMs);
    void m.exited.then(({ code, signal }) => {
      if (waiters.includes(onLine)) done(new Error(`${m.name} exited (${signal ?? code}); stderr: ${m.stderr.slice(-500)}`));
    });
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** `signal` to the pid; SIGKILL to its whole group if it has not exited after `graceMs`. */
export async function stopProcess(m: Managed, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (!m.exitedAlready) {
    try {
      process.kill(m.pid, signal);
    } catch {
      // Exited meanwhile.
    }
    const late = await Promise.race([m.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (late) {
      process.stderr.write(`${m.name} (pid ${m.pid}) ignored ${signal} for ${graceMs} ms; killing its process group\n`);
      signalGroup(m.pid, 'SIGKILL');
      await m.exited;
    }
  }
  // Children the process left behind (its group outlives it) are ended too.
  signalGroup(m.pid, 'SIGKILL');
}

/** Runs a command to completion (bounded by `timeoutMs`) and returns what it printed. */
export async function runCommand(
  name: string,
  cmd: string,
  args: string[],
  timeoutMs: number,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const m = startProcess(name, cmd, args, opts);
  const timer = setTimeout(() => {
    process.stderr.write(`${name} still running after ${timeoutMs} ms; killing it\n`);
    signalGroup(m.pid, 'SIGKILL');
  }, timeoutMs);
  const { code } = await m.exited;
  // 'exit' can come before the last stdout chunk: wait for the pipes to close too.
  await new Promise((r) => (m.proc.stdout!.readableEnded ? r(null) : m.proc.stdout!.once('close', r)));
  clearTimeout(timer);
  signalGroup(m.pid, 'SIGKILL');
  return { code, stdout: m.lines.join('\n'), stderr: m.stderr };
}

/** Last resort on error, signal or exit: SIGKILL to every group still running. Synchronous. */
export function killEverything(): void {
  for (const m of live) signalGroup(m.pid, 'SIGKILL');
  live.clear();
}

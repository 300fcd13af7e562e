// Drives wrk (closed loop, hello-world throughput) and reads its text report.
import { runCommand } from './procs.ts';

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationS: number;
  /** Send `Connection: close`: a new connection for every request. */
  close: boolean;
  timeoutS: number;
  /** A Lua script for wrk (-s), e.g. one that sets the method and body of a POST. */
  script?: string;
}

export interface WrkResult {
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx/3xx answers. */
  errors: Record<string, number>;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function duration(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? '');
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : Number.NaN;
}

export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
  const p50Ms = duration(/^\s+50%\s+(\S+)/m.exec(out)?.[1]);
  const p99Ms = duration(/^\s+99%\s+(\S+)/m.exec(out)?.[1]);
  const errors: Record<string, number> = {};
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (socket) {
    ['connect', 'read', 'write', 'timeout'].forEach((k, i) => {
      const n = Number(socket[i + 1]);
      if (n > 0) errors[k] = n;
    });
  }
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) errors.non2xx = Number(non2xx[1]);
  return { rps, requests, p50Ms, p99Ms, errors };
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--latency', '--timeout', `${o.timeoutS}s`];
  if (o.close) args.push('-H', 'Connection: close');
  if (o.script) args.push('-s', o.script);
  args.push(o.url);
  const { code, stdout, stderr } = await runCommand('wrk', 'wrk', args, (o.durationS + o.timeoutS + 30) * 1000);
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr.trim()}`);
  const result = parseWrk(stdout);
  if (!Number.isFinite(result.rps)) throw new Error(`could not read wrk's report:\n${stdout}`);
  return result;
}

export async function wrkVersion(): Promise<string> {
  const { stdout, stderr } = await runCommand('wrk', 'wrk', ['--version'], 5000);
  return /wrk (\S+)/.exec(stdout + stderr)?.[1] ?? 'unknown';
}

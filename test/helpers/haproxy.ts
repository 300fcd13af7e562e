// A real HAProxy (Debian's 2.6, installed by scripts/ensure-test-deps.sh) for the fleet tests:
// config in a private temp dir, `haproxy -c` first, then `haproxy -db` in the foreground on
// loopback ports, its Runtime API on a unix socket in the same dir, stopped by its pid.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { cli } from './cli.ts';
import { ROOT, tempDir } from './drover.ts';

/** Installs haproxy when missing (idempotent; fast when present). */
export function ensureHaproxy(): void {
  execFileSync('sh', [join(ROOT, 'scripts/ensure-test-deps.sh')], { stdio: 'inherit', timeout: 300_000 });
}

/** A loopback port nothing listens on right now (HAProxy needs fixed ports in its config). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `haproxy -c` on a config text; ok with its output either way. */
export function checkConfig(text: string): { ok: boolean; output: string } {
  const dir = tempDir('haproxy-check-');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, text);
  const r = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8', timeout: 30_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export interface HaproxyProcess {
  readonly dir: string;
  readonly socket: string;
  readonly proc: ChildProcess;
  output: string;
  /** One Runtime API command over the stats socket; its whole answer. */
  runtime(cmd: string): Promise<string>;
  stop(): Promise<void>;
}

export interface HaproxyPaths {
  dir: string;
  socket: string;
  stateFile: string;
}

/** A private dir with the socket and state-file paths a config should use. */
export function haproxyPaths(): HaproxyPaths {
  const dir = tempDir('haproxy-');
  chmodSync(dir, 0o700);
  return { dir, socket: join(dir, 'admin.sock'), stateFile: join(dir, 'server-state') };
}

const running = new Set<HaproxyProcess>();

/** Checks the config with `haproxy -c`, then runs it until the stats socket answers. */
export async function startHaproxy(text: string, paths: HaproxyPaths): Promise<HaproxyProcess> {
  const checked = checkConfig(text);
  if (!checked.ok) throw new Error(`haproxy -c refused the config:\n${checked.output}`);
  const file = join(paths.dir, 'haproxy.cfg');
  writeFileSync(file, text);
  const proc = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const h: HaproxyProcess = {
    dir: paths.dir,
    socket: paths.socket,
    proc,
    output: '',
    runtime: (cmd) => runtime(paths.socket, cmd),
    stop: async () => {
      running.delete(h);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (h.output += c));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (h.output += c));
  running.add(h);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`haproxy exited with ${proc.exitCode}:\n${h.output}`);
    try {
      await h.runtime('show info');
      return h;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`haproxy's stats socket did not answer: ${(err as Error).message}\n${h.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Stops every haproxy a test file started and did not stop. */
export async function stopAllHaproxy(): Promise<void> {
  await Promise.all([...running].map((h) => h.stop()));
}

function runtime(socket: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket, () => s.end(`${cmd}\n`));
    let out = '';
    s.setEncoding('utf8').on('data', (c: string) => (out += c)).on('end', () => resolve(out)).on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error(`runtime API timed out on '${cmd}'`)));
  });
}

/** Rows of `show servers state <backend>` as objects keyed by the header's field names. */
export async function serversState(h: HaproxyProcess, backend: string): Promise<Record<string, string>[]> {
  const text = await h.runtime(`show servers state ${backend}`);
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.find((l) => l.startsWith('# be_id'));
  if (!header) throw new Error(`unexpected 'show servers state' answer: ${text}`);
  const names = header.slice(2).split(' ');
  return lines.filter((l) => !l.startsWith('#') && /^\d/.test(l)).map((l) => Object.fromEntries(l.split(' ').map((v, i) => [names[i] ?? `f${i}`, v])));
}

/** Rows of `show stat` (CSV) as objects keyed by the header's field names. */
export async function showStat(h: HaproxyProcess): Promise<Record<string, string>[]> {
  const text = await h.runtime('show stat');
  const [header, ...rows] = text.split('\n').filter((l) => l.trim() !== '');
  const names = header!.replace(/^# /, '').split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [names[i] ?? `f${i}`, v])));
}

export interface FrontedHaproxy {
  h: HaproxyProcess;
  paths: HaproxyPaths;
  /** http://127.0.0.1:<port> of HAProxy's public frontend. */
  front: string;
  /** The fleet env a node or `haproxy-sync` needs to find this HAProxy's sockets. */
  env: Record<string, string>;
}

/** HAProxy running the config `drover haproxy-config` writes: `servers` listed statically,
 * `slots` spare server-template slots for haproxy-sync; `edit` may adjust the text first. */
export async function haproxyForDrover(options: { servers?: string[]; slots: number; agentPort?: number; edit?: (config: string) => string }): Promise<FrontedHaproxy> {
  ensureHaproxy();
  const frontPort = await freePort();
  const paths = haproxyPaths();
  const env: Record<string, string> = {
    DROVER_FLEET__HAPROXY_STATS_SOCKET: paths.socket,
    DROVER_FLEET__HAPROXY_STATE_FILE: paths.stateFile,
    ...(options.agentPort !== undefined && { DROVER_FLEET__AGENT_PORT: String(options.agentPort) }),
  };
  const generated = await cli(['haproxy-config', ...(options.servers ?? [])], {
    ...env,
    DROVER_FLEET__HAPROXY_BIND: `127.0.0.1:${frontPort}`,
    DROVER_FLEET__HAPROXY_SLOTS: String(options.slots),
  });
  if (generated.code !== 0) throw new Error(`drover haproxy-config exited ${generated.code}: ${generated.stderr}`);
  const h = await startHaproxy(options.edit ? options.edit(generated.stdout) : generated.stdout, paths);
  return { h, paths, front: `http://127.0.0.1:${frontPort}`, env };
}

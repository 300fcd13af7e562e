// Where drover keeps its private files, and whether a directory is safe to keep them in. The
// state directory holds every task's input and result; the runtime directory holds the control
// socket, which stops or reloads the node. Both must belong to drover's user alone: a
// directory someone else owns or can write to lets them read the store or swap the socket.
import { lstatSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import type { Config } from './schema.ts';

/** The unit's RuntimeDirectory=drover: where a supervisor run by systemd keeps its control socket. */
export const SYSTEM_RUNTIME_DIR = '/run/drover';

/** Durable state (the embedded store): the config, else systemd's StateDirectory, else ./.drover. */
export function stateDir(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(config.supervisor.state_dir || env.STATE_DIRECTORY?.split(':')[0] || '.drover');
}

/** The control socket's directory: the config, else systemd's RuntimeDirectory, else a per-user one. */
export function runtimeDir(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  if (config.supervisor.runtime_dir) return resolve(config.supervisor.runtime_dir);
  if (env.RUNTIME_DIRECTORY) return env.RUNTIME_DIRECTORY.split(':')[0]!;
  if (env.XDG_RUNTIME_DIR) return resolve(env.XDG_RUNTIME_DIR, 'drover');
  return resolve(tmpdir(), `drover-${userInfo().uid}`);
}

/**
 * Where the CLI looks for a running supervisor, in order: the directory `start` would use in
 * this environment, then the systemd service's (a shell has neither $RUNTIME_DIRECTORY nor the
 * service's user). A directory named in the config is the only place looked.
 */
export function runtimeDirCandidates(config: Config, env: NodeJS.ProcessEnv = process.env): string[] {
  const own = runtimeDir(config, env);
  if (config.supervisor.runtime_dir || env.RUNTIME_DIRECTORY) return [own];
  return own === SYSTEM_RUNTIME_DIR ? [own] : [own, SYSTEM_RUNTIME_DIR];
}

/** The same config with both directories made absolute, so children (with another cwd or env) agree. */
export function withResolvedDirs(config: Config, env: NodeJS.ProcessEnv = process.env): Config {
  return { ...config, supervisor: { ...config.supervisor, state_dir: stateDir(config, env), runtime_dir: runtimeDir(config, env) } };
}

/** The parts of a stat drover judges; fs.Stats has them. */
export interface StatLike {
  uid: number;
  mode: number;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isSocket(): boolean;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * Why a directory may not hold drover's private files, or undefined when it may: it must be a
 * directory (not a link someone could repoint), owned by `owner`, and writable by nobody else
 * (group or world write lets another user rename the socket or the database away).
 */
export function unsafeDirReason(st: StatLike, owner: number): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (!st.isDirectory()) return 'is not a directory';
  if (st.uid !== owner) return `is owned by uid ${st.uid}, not uid ${owner}`;
  if ((st.mode & 0o022) !== 0) return `is writable by ${st.mode & 0o002 ? 'every user' : 'its group'} (mode ${octal(st.mode)})`;
  return undefined;
}

/**
 * Whose supervisor the CLI may talk to through a socket in `dir`: its own user's; or, when
 * `dir` sits in a directory only root can write to (/run), whichever user root gave it to (the
 * service's). Anyone else's is refused: in /tmp any user can make a directory in our name.
 */
export function expectedOwner(dir: StatLike, parent: StatLike, me: number): number {
  const rootPlaced = parent.uid === 0 && (parent.mode & 0o022) === 0;
  return rootPlaced ? dir.uid : me;
}

/**
 * Why the CLI must not trust the control socket at `socketPath`, or undefined: its directory
 * must be safe for the expected owner, and the socket a socket of that same owner.
 */
export function untrustedSocketReason(dir: StatLike, parent: StatLike, socket: StatLike, me: number): string | undefined {
  const owner = expectedOwner(dir, parent, me);
  const dirProblem = unsafeDirReason(dir, owner);
  if (dirProblem) return `its directory ${dirProblem}`;
  if (!socket.isSocket()) return 'it is not a socket';
  if (socket.uid !== owner) return `it is owned by uid ${socket.uid}, not uid ${owner}`;
  return undefined;
}

export class UnsafePathError extends Error {
  readonly code = 'UNSAFE_PATH';
}

const ROLE_KEYS = { state: 'supervisor.state_dir', runtime: 'supervisor.runtime_dir' } as const;

/**
 * Creates `path` (mode 0700) if missing and checks that it is drover's alone; throws one line
 * naming the directory and what is wrong with it.
 */
export function ensurePrivateDir(path: string, role: keyof typeof ROLE_KEYS, uid: number = process.getuid!()): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const problem = unsafeDirReason(lstatSync(path), uid);
  if (problem) throw new UnsafePathError(`the ${role} directory ${path} ${problem}; it holds drover's private files: remove it, or set ${ROLE_KEYS[role]} to another`);
}

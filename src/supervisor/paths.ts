import { resolve } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import type { Config } from '../config/schema.ts';

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

/** The same config with both directories made absolute, so children (with another cwd or env) agree. */
export function withResolvedDirs(config: Config, env: NodeJS.ProcessEnv = process.env): Config {
  return { ...config, supervisor: { ...config.supervisor, state_dir: stateDir(config, env), runtime_dir: runtimeDir(config, env) } };
}

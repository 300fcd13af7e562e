// What check-config and start verify beyond the config's own keys, before any child is
// forked: the agent module and the routes plugin load, the public address is not served
// anonymously, and the variables named for the Redis passwords and the providers' API keys
// are set. Every problem is collected, none stops the others.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSea } from 'node:sea';
import type { Config } from '../config/schema.ts';
import type { ConfigSource } from '../config/load.ts';
import { checkAuthBind } from '../config/bind.ts';
import { loadAgentModule } from '../worker-pool/agent-module.ts';
import { loadPlugin } from '../http/plugin.ts';
import { registerProbe } from '../http/plugin-probe.ts';
import { PROBE_ENV, type ProbeKind } from './probe-env.ts';
/** A module whose top level takes longer than this would not let a child boot either. */
const PROBE_TIMEOUT_MS = 20_000;

export interface Preflight {
  /** One line each; drover must not start with any of them. */
  readonly errors: string[];
  readonly warnings: string[];
}

/** Where a key was set, as a config error starts: `drover.toml:6: `, `DROVER_X__Y: ` or nothing. */
function origin(source: ConfigSource | undefined): string {
  if (source?.kind === 'file') return `${source.file}${source.line === undefined ? '' : `:${source.line}`}: `;
  if (source?.kind === 'env') return `${source.variable}: `;
  if (source?.kind === 'flag') return `flag ${source.flag}: `;
  return '';
}

export async function preflight(config: Config, sources: Readonly<Record<string, ConfigSource>> = {}, env: NodeJS.ProcessEnv = process.env): Promise<Preflight> {
  const errors: string[] = [];
  const warnings: string[] = [];
  try {
    checkAuthBind(config);
  } catch (err) {
    errors.push((err as Error).message);
  }
  if (config.executor.agent) {
    const problem = await probe('agent', config.executor.agent);
    if (problem) errors.push(`${origin(sources['executor.agent'])}executor.agent: ${problem}`);
  }
  if (config.http.plugin) {
    const problem = await probe('plugin', config.http.plugin);
    if (problem) errors.push(`${origin(sources['http.plugin'])}http.plugin: ${problem}`);
  }
  // The store would refuse to connect without them: said here with the file and line.
  if (config.store.backend === 'redis') {
    for (const k of ['password_env', 'sentinel_password_env'] as const) {
      const name = config.store[k];
      if (name && env[name] === undefined) errors.push(`${origin(sources[`store.${k}`])}store.${k}: ${name} is not set in the environment`);
    }
  }
  for (const [name, p] of Object.entries(config.llm.providers)) {
    const key = `llm.providers.${name}.api_key_env`;
    if (p.api_key_env && !env[p.api_key_env]) warnings.push(`${origin(sources[key])}${key}: ${p.api_key_env} is not set in the environment; requests to ${name} will fail`);
  }
  return { errors, warnings };
}

/**
 * Loads a user's module in a process of its own (its top level is user code: it must not run
 * in the supervisor, nor keep it alive) and returns what went wrong, with the module's own
 * file and line: Node prints those only for an uncaught error, so the probe lets it be one.
 * A plugin is also registered on a bare fastify, which runs its function.
 */
async function probe(kind: ProbeKind, file: string): Promise<string | undefined> {
  const abs = isAbsolute(file) ? file : resolve(file);
  if (!existsSync(abs)) return `no such file ${abs}`;
  // Inside the single binary the binary is the entry; from the sources, the same script.
  const args = isSea() ? [] : [...process.execArgv, process.argv[1]!];
  const proc = spawn(process.execPath, args, { env: { ...process.env, [PROBE_ENV[kind]]: abs }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => proc.kill('SIGKILL'), PROBE_TIMEOUT_MS);
  const [code, signal] = (await new Promise((r) => proc.once('exit', (...a) => r(a)))) as [number | null, string | null];
  clearTimeout(timer);
  if (code === 0) return undefined;
  if (signal === 'SIGKILL') return `${abs} did not finish loading within ${PROBE_TIMEOUT_MS / 1000}s`;
  return describeFailure(stderr, abs);
}

/** `file:///x/agent.mjs:2` … `SyntaxError: Unexpected token ';'` → `/x/agent.mjs:2: SyntaxError: Unexpected token ';'`. */
export function describeFailure(stderr: string, abs: string): string {
  const lines = stderr.split('\n');
  const own = lines.find((l) => l.startsWith('drover: '));
  if (own) return own.slice('drover: '.length);
  const at = lines.map((l) => /^(file:\/\/\S+|\/\S+):(\d+)$/.exec(l)).find((m) => m !== null);
  const where = at ? `${at[1]!.startsWith('file:') ? fileURLToPath(at[1]!) : at[1]}:${at[2]}` : abs;
  const error = lines.find((l) => /^\w*Error\b.*: /.test(l)) ?? lines.find((l) => l.trim() !== '') ?? 'failed to load';
  return `${where}: ${error}`;
}

/** In the probe process: loads the module and exits 0, or fails the way Node reports best. */
export function runProbe(): void {
  const agent = process.env[PROBE_ENV.agent];
  const plugin = process.env[PROBE_ENV.plugin];
  const loaded = agent ? loadAgentModule(agent) : loadPlugin(plugin!).then((p) => registerProbe(p, plugin!));
  loaded.then(
    () => process.exit(0),
    (err: Error) => {
      // An error from the module itself: thrown again, uncaught, so Node prints its file and line.
      if (err.cause) throw err.cause;
      process.stderr.write(`drover: ${err.message}\n`);
      process.exit(1);
    },
  );
}

// Turns TypeBox's validation errors on the merged, defaulted config into one-line issues that
// name the key, where it was set and what it should be; then checks what one key cannot say
// alone (a default provider that exists, min ≤ max, an admin port that stays on loopback).
import { Value } from '@sinclair/typebox/value';
import { isLoopback } from './bind.ts';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { ConfigSchema, type Config } from './schema.ts';
import { expected, formatKey, found, knownKeys, schemaAt, type KeyPath } from './describe.ts';
import { issue, nearest, type ConfigIssue } from './errors.ts';

/** Where a key's value came from: a file line, or an override (variable or flag) and its key. */
export interface Location {
  readonly file?: string;
  readonly line?: number;
  readonly origin?: string;
  readonly originPath?: KeyPath;
  readonly fromEnv?: boolean;
}

/** Finds where the value at a path was set; undefined when it is a default. */
export type Locate = (path: KeyPath) => Location | undefined;

export function validate(config: unknown, locate: Locate): ConfigIssue[] {
  const issues: Described[] = [];
  const reported: string[] = [];
  for (const error of Value.Errors(ConfigSchema, config)) {
    const path = toPath(error.path, config);
    const key = formatKey(path);
    // One issue per key: TypeBox reports a missing key as "required" and again as "wrong type",
    // and a table of the wrong type needs no further complaint about its contents.
    if (reported.some((r) => key === r || key.startsWith(`${r}.`) || key.startsWith(`${r}[`))) continue;
    reported.push(key);
    issues.push(describe(error, path, config, locate(path) ?? {}));
  }
  // `tennant = "a"` also leaves `tenant` missing; the misspelling is the one worth reporting.
  const misspelt = new Set(issues.flatMap((i) => (i.suggests === undefined ? [] : [i.suggests])));
  const kept = issues.filter((i) => !(i.missing && misspelt.has(i.key ?? ''))).map(({ suggests: _, missing: __, ...rest }) => rest);
  return kept.length > 0 ? kept : crossCheck(config as Config, locate);
}

/**
 * Keys drover had and dropped, with what to do: a config copied from an older
 * config.example.toml names them, and "did you mean" would point elsewhere.
 */
const REMOVED_KEYS: Readonly<Record<string, string>> = {
  'balancer.strategy': 'drover always balances by least load; delete the line',
  'balancer.accept': 'children always accept from the shared socket; delete the line',
};

interface Described extends ConfigIssue {
  /** For an unknown key: the full key it was probably meant to be. */
  readonly suggests?: string;
  readonly missing?: boolean;
}

function describe(error: ValueError, path: KeyPath, config: unknown, at: Location): Described {
  const key = formatKey(path);
  const where = { file: at.file, line: at.line, origin: at.origin, key };
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const parent = schemaAt(ConfigSchema, path.slice(0, -1));
    const removed = REMOVED_KEYS[key];
    const suggestion = parent === undefined || removed !== undefined ? undefined : nearest(String(path.at(-1)), knownKeys(parent));
    const hint = removed !== undefined ? ` (removed: ${removed})` : suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
    const suggests = suggestion === undefined ? undefined : formatKey([...path.slice(0, -1), suggestion]);
    return { ...issue(at.fromEnv ? 'CONFIG_ENV' : 'CONFIG_UNKNOWN_KEY', `unknown key ${key}${hint}`, where), suggests };
  }
  const schema = schemaAt(ConfigSchema, path) ?? error.schema;
  const value = valueAt(config, path);
  const what = value === undefined ? `missing, expected ${expected(schema)}` : `expected ${expected(schema)}, got ${found(value)}`;
  // An override that set exactly this key already names it; repeating the key adds nothing.
  const text = at.originPath !== undefined && formatKey(at.originPath) === key ? what : `${key}: ${what}`;
  return { ...issue(at.fromEnv ? 'CONFIG_ENV' : 'CONFIG_INVALID', text, where), missing: value === undefined };
}

function crossCheck(config: Config, locate: Locate): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const problem = (path: KeyPath, text: string, fallback?: KeyPath) => {
    const at = locate(path) ?? (fallback === undefined ? undefined : locate(fallback)) ?? {};
    const code = at.fromEnv ? 'CONFIG_ENV' : 'CONFIG_INVALID';
    issues.push(issue(code, `${formatKey(path)}: ${text}`, { file: at.file, line: at.line, origin: at.origin, key: formatKey(path) }));
  };

  const providers = Object.keys(config.llm.providers);
  if (!providers.includes(config.llm.default_provider)) {
    const have = providers.length === 0 ? 'none is defined' : `defined: ${providers.map((p) => JSON.stringify(p)).join(', ')}`;
    problem(['llm', 'default_provider'], `expected a provider of llm.providers (${have}), got ${found(config.llm.default_provider)}`, ['llm', 'providers']);
  }
  const { min_children: min, max_children: max } = config.autoscale;
  if (max !== 'auto' && max < min) {
    problem(['autoscale', 'max_children'], `expected at least autoscale.min_children (${min}), got ${max}`, ['autoscale', 'min_children']);
  }
  if (config.supervisor.restart_delay > config.supervisor.restart_delay_max) {
    problem(['supervisor', 'restart_delay'], `expected at most supervisor.restart_delay_max (${config.supervisor.restart_delay_max}), got ${config.supervisor.restart_delay}`, ['supervisor', 'restart_delay_max']);
  }
  if (config.executor.retry_delay > config.executor.retry_delay_max) {
    problem(['executor', 'retry_delay'], `expected at most executor.retry_delay_max (${config.executor.retry_delay_max}), got ${config.executor.retry_delay}`, ['executor', 'retry_delay_max']);
  }
  if (config.store.backend === 'redis') {
    const { url, sentinels, cluster_nodes: clusterNodes } = config.store;
    const given = [url !== '' && 'url', sentinels.length > 0 && 'sentinels', clusterNodes.length > 0 && 'cluster_nodes'].filter((k) => k !== false);
    if (given.length > 1) {
      problem(['store', given[1]!], `expected one of store.url, store.sentinels and store.cluster_nodes, got ${given.map((k) => `store.${k}`).join(' and ')}`, ['store', given[0]!]);
    } else if (given.length === 0 || given[0] === 'url') {
      if (!/^rediss?:\/\/[^/]/.test(url)) {
        problem(['store', 'url'], `expected redis://host:port or rediss://host:port (or store.sentinels or store.cluster_nodes) with store.backend = "redis", got ${url === '' ? '""' : 'another form (not shown: it may hold a password)'}`, ['store', 'backend']);
      }
    } else {
      const key = given[0]!;
      for (const node of key === 'sentinels' ? sentinels : clusterNodes) {
        if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(node)) problem(['store', key], `expected host:port addresses, got ${found(node)}`);
      }
    }
    // Set without sentinels it would be read by nothing: most likely the master's password,
    // which is password_env.
    if (config.store.sentinel_password_env !== '' && sentinels.length === 0) {
      problem(['store', 'sentinel_password_env'], 'set without store.sentinels: it is the sentinels\' own password (the Redis password is store.password_env)', ['store', 'sentinels']);
    }
  }
  const { admin } = config;
  if (admin.enabled && !admin.allow_remote && !isLoopback(admin.host)) {
    problem(['admin', 'host'], `${found(admin.host)} is not a loopback address; set admin.allow_remote = true and admin.token to serve /metrics and /status remotely`);
  } else if (admin.enabled && admin.allow_remote && admin.token === '') {
    problem(['admin', 'token'], 'expected a token when admin.allow_remote is true, got ""', ['admin', 'allow_remote']);
  }
  // HAProxy trusts what the agent says (drain, down, maxconn): it must not face the internet.
  if (config.fleet.agent_port !== 0 && !isLoopback(config.fleet.agent_host) && !isPrivateAddress(config.fleet.agent_host)) {
    problem(['fleet', 'agent_host'], `${found(config.fleet.agent_host)} is neither a loopback nor a private address (10/8, 172.16/12, 192.168/16, fc00::/7)`);
  }
  return issues;
}

function isPrivateAddress(host: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  return /^f[cd][0-9a-f]{2}:/i.test(host);
}

/** TypeBox's JSON pointer (`/auth/keys/0/tenant`) as a key path; array indexes become numbers. */
function toPath(pointer: string, root: unknown): KeyPath {
  const path: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    const step = Array.isArray(node) ? Number(segment) : segment;
    path.push(step);
    node = node === null || typeof node !== 'object' ? undefined : (node as Record<string | number, unknown>)[step];
  }
  return path;
}

function valueAt(root: unknown, path: KeyPath): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

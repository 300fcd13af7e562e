// The effective configuration: defaults < TOML file < DROVER_* variables < command-line flags.
// Every problem in every layer is collected before anything is thrown, so one run of
// `drover check-config` shows them all; the error itself leads with the first.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { Config } from './schema.ts';
import { formatKey, type KeyPath } from './describe.ts';
import { isTable, withDefaults } from './defaults.ts';
import { ConfigError, issue, type ConfigIssue } from './errors.ts';
import { envOverrides, flagOverrides, type Override } from './overrides.ts';
import { keyLines, lineOf, type KeyLines } from './toml-lines.ts';
import { validate, type Location } from './validate.ts';

export interface LoadOptions {
  /** A file the user named (`-c`); it must exist. Else DROVER_CONFIG, else the search list. */
  readonly file?: string;
  /** Defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Dotted keys to values: `{ 'server.port': 9000 }`; strings are coerced like env values. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** Where to look when no file is named; the first that exists is used. */
  readonly search?: readonly string[];
}

/** Where a key that is not at its default got its value. */
export type ConfigSource =
  | { readonly kind: 'file'; readonly file: string; readonly line?: number }
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'flag'; readonly flag: string };

export interface LoadedConfig {
  /** Fully defaulted and validated. */
  readonly config: Config;
  /** Absolute path of the file read, if any. */
  readonly file?: string;
  /** Dotted key (`server.port`, `auth.keys[0].tenant`) → where it was set. Absent = default. */
  readonly sources: Readonly<Record<string, ConfigSource>>;
}

export const DEFAULT_SEARCH: readonly string[] = ['drover.toml', '/etc/drover/drover.toml'];

interface FileLayer {
  readonly name: string; // as the user wrote it; error messages use it
  readonly value: Record<string, unknown>;
  readonly lines: KeyLines;
}

/** Throws ConfigError (see errors.ts for codes) on any problem. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const file = readLayer(opts.file ?? env['DROVER_CONFIG'], opts.search ?? DEFAULT_SEARCH, opts.file === undefined);
  const fromEnv = envOverrides(env);
  const fromFlags = flagOverrides(opts.flags ?? {});
  const overrides = [...fromEnv.overrides, ...fromFlags.overrides];

  const merged: Record<string, unknown> = structuredClone(file?.value ?? {});
  for (const o of overrides) setAt(merged, o.path, structuredClone(o.value));
  const config = withDefaults(merged);

  const locate = (path: KeyPath): Location | undefined => {
    const o = overrides.findLast((candidate) => isPrefix(candidate.path, path));
    if (o !== undefined) return { origin: o.origin, originPath: o.path, fromEnv: o.fromEnv };
    if (file === undefined || !hasAt(file.value, path.slice(0, 1))) return undefined;
    return { file: file.name, line: lineOf(file.lines, path) };
  };
  const issues = [...fromEnv.issues, ...fromFlags.issues, ...validate(config, locate)];
  if (issues.length > 0) throw new ConfigError(sortIssues(issues));

  const sources = sourcesOf(file, overrides);
  const typed = config as Config;
  typed.http.plugin = resolveModulePath(typed.http.plugin, sources['http.plugin'], process.cwd());
  return { config: typed, file: file === undefined ? undefined : resolve(file.name), sources };
}

/**
 * A module path made absolute, so children and probes load the same file whatever their cwd:
 * one written in the config file is relative to that file's directory (the config and the
 * routes it names travel together); one from a variable or a flag, to the working directory.
 */
export function resolveModulePath(path: string, source: ConfigSource | undefined, cwd: string): string {
  if (path === '' || isAbsolute(path)) return path;
  return resolve(source?.kind === 'file' ? dirname(resolve(cwd, source.file)) : cwd, path);
}

function readLayer(named: string | undefined, search: readonly string[], fromEnv: boolean): FileLayer | undefined {
  if (named !== undefined) {
    const text = readText(named);
    if (text === undefined) {
      const origin = fromEnv ? 'DROVER_CONFIG' : undefined;
      const text = fromEnv ? `config file ${named} not found` : 'config file not found';
      throw new ConfigError([issue('CONFIG_NOT_FOUND', text, { origin, file: named })]);
    }
    return parseLayer(named, text);
  }
  for (const candidate of search) {
    const text = readText(candidate);
    if (text !== undefined) return parseLayer(candidate, text);
  }
  return undefined;
}

/** The file's text, or undefined if it does not exist; other failures are errors. */
function readText(name: string): string | undefined {
  try {
    return readFileSync(name, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError([issue('CONFIG_READ', `cannot read the config file (${code ?? (err as Error).message})`, { file: name })]);
  }
}

function parseLayer(name: string, text: string): FileLayer {
  try {
    return { name, value: parse(text) as Record<string, unknown>, lines: keyLines(text) };
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    throw new ConfigError([issue('CONFIG_PARSE', `invalid TOML: ${reason} (column ${err.column})`, { file: name, line: err.line })]);
  }
}

/** File problems in line order first, then variables, then flags. */
function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const rank = (i: ConfigIssue) => (i.origin === undefined ? 0 : i.origin.startsWith('flag ') ? 2 : 1);
  return issues
    .map((i, order) => ({ i, order }))
    .sort((a, b) => rank(a.i) - rank(b.i) || (a.i.line ?? Infinity) - (b.i.line ?? Infinity) || a.order - b.order)
    .map(({ i }) => i);
}

function sourcesOf(file: FileLayer | undefined, overrides: readonly Override[]): Record<string, ConfigSource> {
  const sources: Record<string, ConfigSource> = {};
  if (file !== undefined) {
    for (const path of leaves(file.value, [])) sources[formatKey(path)] = { kind: 'file', file: file.name, line: lineOf(file.lines, path) };
  }
  for (const o of overrides) {
    const key = formatKey(o.path);
    for (const existing of Object.keys(sources)) {
      if (existing === key || existing.startsWith(`${key}.`) || existing.startsWith(`${key}[`)) delete sources[existing];
    }
    sources[key] = o.fromEnv ? { kind: 'env', variable: o.origin } : { kind: 'flag', flag: o.path.join('.') };
  }
  return sources;
}

function leaves(value: unknown, path: KeyPath): KeyPath[] {
  if (isTable(value)) return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  if (Array.isArray(value) && value.some(isTable)) return value.flatMap((v, i) => leaves(v, [...path, i]));
  return [path];
}

function setAt(root: Record<string, unknown>, path: KeyPath, value: unknown): void {
  let node = root;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (!isTable(next)) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[String(path.at(-1))] = value;
}

function hasAt(root: Record<string, unknown>, path: KeyPath): boolean {
  let node: unknown = root;
  for (const segment of path) {
    if (!isTable(node) || !Object.hasOwn(node, segment)) return false;
    node = node[segment];
  }
  return true;
}

function isPrefix(prefix: KeyPath, path: KeyPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

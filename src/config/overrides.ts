// Environment and command-line overrides. Both arrive as strings keyed by a path
// (DROVER_SERVER__PORT, `server.port`), so both are resolved against the schema, which says
// what type a string must become. A string that does not coerce is passed on unchanged, so
// validation reports it with the same wording as a bad value in the file.
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema } from './schema.ts';
import { childSchema, expected, formatKey, found, kindOf, knownKeys, type KeyPath } from './describe.ts';
import { issue, nearest, type ConfigIssue } from './errors.ts';

export interface Override {
  readonly path: KeyPath;
  readonly value: unknown;
  /** The variable name, or `flag <key>`; error messages start with it. */
  readonly origin: string;
  readonly fromEnv: boolean;
}

export interface Overrides {
  readonly overrides: Override[];
  readonly issues: ConfigIssue[];
}

const ENV_PREFIX = 'DROVER_';

/**
 * `DROVER_<SECTION>__<KEY>[__<KEY>…]=value`. Variables without a double underscore (such as
 * DROVER_CONFIG) are not overrides and are left alone. Names are upper case, keys lower case.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Overrides {
  const result: Overrides = { overrides: [], issues: [] };
  const names = Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX) && n.includes('__'));
  // A whole table set as JSON is applied before the single keys inside it.
  names.sort((a, b) => a.split('__').length - b.split('__').length || a.localeCompare(b));
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__').map((s) => s.toLowerCase());
    add(result, segments, raw, name, true);
  }
  return result;
}

/** Flags as dotted keys: `{ 'server.port': '9000', 'supervisor.children': 2 }`. */
export function flagOverrides(flags: Readonly<Record<string, unknown>>): Overrides {
  const result: Overrides = { overrides: [], issues: [] };
  for (const [key, value] of Object.entries(flags)) {
    if (value !== undefined) add(result, key.split('.'), value, `flag ${key}`, false);
  }
  return result;
}

function add(result: Overrides, segments: string[], raw: unknown, origin: string, fromEnv: boolean): void {
  const fail = (code: 'CONFIG_UNKNOWN_KEY' | 'CONFIG_INVALID', text: string, key?: string) =>
    result.issues.push(issue(fromEnv ? 'CONFIG_ENV' : code, text, { origin, key }));
  if (segments.some((s) => s === '')) {
    fail('CONFIG_UNKNOWN_KEY', fromEnv ? 'expected a name like DROVER_SERVER__PORT (DROVER_<SECTION>__<KEY>)' : 'expected a dotted key like server.port');
    return;
  }
  let schema: TSchema = ConfigSchema;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    const key = formatKey(segments.slice(0, i + 1));
    if (kindOf(schema) === 'Array') {
      fail('CONFIG_INVALID', `${formatKey(segments.slice(0, i))} is ${expected(schema)}; set it whole, as JSON`, key);
      return;
    }
    const next = childSchema(schema, segment);
    if (next === undefined) {
      const suggestion = nearest(segment, knownKeys(schema));
      fail('CONFIG_UNKNOWN_KEY', `unknown key ${key}${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}`, key);
      return;
    }
    schema = next;
  }
  const coerced = typeof raw === 'string' ? coerce(schema, raw) : { value: raw };
  if ('error' in coerced) {
    fail('CONFIG_INVALID', coerced.error, formatKey(segments));
    return;
  }
  result.overrides.push({ path: segments, value: coerced.value, origin, fromEnv });
}

/** A string as the schema's type; tables and arrays are written as JSON. */
export function coerce(schema: TSchema, raw: string): { value: unknown } | { error: string } {
  switch (kindOf(schema)) {
    case 'Integer':
    case 'Number':
      return { value: toNumber(raw) ?? raw };
    case 'Boolean':
      return { value: toBoolean(raw) ?? raw };
    case 'Union': {
      const variants = schema['anyOf'] as TSchema[];
      if (variants.some((v) => kindOf(v) === 'Literal' && v['const'] === raw)) return { value: raw };
      const numeric = variants.some((v) => kindOf(v) === 'Integer' || kindOf(v) === 'Number');
      return { value: numeric ? (toNumber(raw) ?? raw) : raw };
    }
    case 'Object':
    case 'Record':
    case 'Array':
      try {
        return { value: JSON.parse(raw) as unknown };
      } catch {
        return { error: `expected ${expected(schema)} written as JSON, got ${found(raw)}` };
      }
    default:
      return { value: raw };
  }
}

function toNumber(raw: string): number | undefined {
  const text = raw.trim().replaceAll('_', '');
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : undefined;
}

function toBoolean(raw: string): boolean | undefined {
  const text = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  return undefined;
}

// The effective config as it may be shown (check-config, /status, logs): secrets replaced,
// API key hashes cut to a recognisable prefix, credentials removed from URLs. A hash is not
// the key, but a full hash is enough to test guesses against offline, so it is not shown.
import type { Config } from './schema.ts';
import { isTable } from './defaults.ts';

export const REDACTED = '[redacted]';

const SECRET_KEY = /(token|secret|password)$/i;
const HASH_PREFIX = 8;

/** A redacted deep copy; the input is not changed. */
export function redactConfig(config: Config): Config {
  return redact(config, '') as Config;
}

function redact(value: unknown, key: string): unknown {
  if (Array.isArray(value)) return value.map((item) => redact(item, key));
  if (isTable(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  if (typeof value !== 'string' || value === '') return value;
  if (SECRET_KEY.test(key)) return REDACTED;
  if (key === 'sha256') return `${value.slice(0, HASH_PREFIX)}…`;
  if (key.endsWith('url')) return withoutCredentials(value);
  return value;
}

function withoutCredentials(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.username === '' && url.password === '') return text;
  url.username = '';
  url.password = '';
  return url.toString();
}

// config.example.toml is the reference users copy from: it must load as-is, set every key to
// exactly its default, and mention every key the schema has.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../../src/config/schema.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { kindOf, recordValueSchema } from '../../../src/config/describe.ts';

const file = fileURLToPath(new URL('../../../config.example.toml', import.meta.url));
const text = readFileSync(file, 'utf8');

/** Table header → keys written under it, commented out or not. */
function keysBySection(source: string): Map<string, Set<string>> {
  const sections = new Map<string, Set<string>>();
  let current = '';
  for (const line of source.split('\n')) {
    const header = /^#?\s*\[\[?([\w.]+)\]\]?\s*$/.exec(line);
    if (header?.[1] !== undefined) {
      current = header[1];
      continue;
    }
    const key = /^#?\s*(\w+) = /.exec(line);
    if (key?.[1] !== undefined) sections.set(current, (sections.get(current) ?? new Set()).add(key[1]));
  }
  return sections;
}

/** The comment lines directly above line i, joined. */
function commentAbove(lines: string[], i: number): string {
  let start = i;
  while (start > 0 && lines[start - 1]?.startsWith('#')) start--;
  return lines.slice(start, i).join(' ');
}

/** Every table of the schema and its keys; records and arrays of tables by their example name. */
function schemaKeys(schema: TSchema, prefix: string, out = new Map<string, [string, TSchema][]>()): Map<string, [string, TSchema][]> {
  const leaves: [string, TSchema][] = [];
  for (const [key, child] of Object.entries(schema['properties'] as Record<string, TSchema>)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (kindOf(child) === 'Object') schemaKeys(child, name, out);
    else if (kindOf(child) === 'Record') schemaKeys(recordValueSchema(child), `${name}.mock`, out);
    else if (kindOf(child) === 'Array' && kindOf(child['items'] as TSchema) === 'Object') schemaKeys(child['items'] as TSchema, name, out);
    else leaves.push([key, child]);
  }
  if (prefix !== '') out.set(prefix, leaves);
  return out;
}

describe('config.example.toml', () => {
  it('loads as-is and yields exactly the defaults', () => {
    expect(loadConfig({ file, env: {} }).config).toEqual(defaultConfig());
  });

  it('sets every key explicitly (only the API key example is commented out)', () => {
    const raw = parse(text) as Record<string, Record<string, unknown>>;
    expect({ ...raw, auth: { ...raw['auth'], keys: [] } }).toEqual(defaultConfig());
  });

  it('mentions every key of every section, each after a comment giving its default', () => {
    const written = keysBySection(text);
    for (const [section, keys] of schemaKeys(ConfigSchema, '')) {
      for (const [key] of keys) expect(written.get(section), `${section}.${key}`).toContain(key);
    }
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (/^\w+ = /.test(line)) expect(commentAbove(lines, i), line).toMatch(/[Dd]efault/);
    });
  });

  it('states the unit of every duration', () => {
    const lines = text.split('\n');
    const durations = [...schemaKeys(ConfigSchema, '').values()].flat().filter(([, schema]) => schema['unit'] === 'seconds').map(([key]) => key);
    expect(durations.length).toBeGreaterThan(30);
    for (const key of durations) {
      const i = lines.findIndex((l) => l.startsWith(`${key} = `));
      expect(commentAbove(lines, i), key).toMatch(/Seconds/);
    }
  });
});

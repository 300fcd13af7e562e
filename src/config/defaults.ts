// Filling defaults from the schema. TypeBox's Value.Default does two things wrong for us
// with records: it never fills the defaults inside a record's values (the provider schema has
// no default of its own), and it merges the record's default into a given record, so
// [llm.providers.openai] would silently keep the mock provider beside it. A table the user
// writes replaces the default table; the keys inside it still get their defaults.
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema, type Config } from './schema.ts';
import { kindOf, recordValueSchema } from './describe.ts';

/** A copy of `partial` with every missing key set to its default. Does not validate. */
export function withDefaults(partial: unknown): unknown {
  return fill(ConfigSchema, structuredClone(partial ?? {}));
}

export function defaultConfig(): Config {
  return withDefaults({}) as Config;
}

function fill(schema: TSchema, value: unknown): unknown {
  const v = value === undefined && 'default' in schema ? structuredClone(schema['default'] as unknown) : value;
  if (!isTable(v)) {
    if (kindOf(schema) === 'Array' && Array.isArray(v)) return v.map((item) => fill(schema['items'] as TSchema, item));
    return v;
  }
  if (kindOf(schema) === 'Object') {
    for (const [key, propertySchema] of Object.entries(schema['properties'] as Record<string, TSchema>)) {
      const filled = fill(propertySchema, v[key]);
      if (filled !== undefined) v[key] = filled;
    }
  } else if (kindOf(schema) === 'Record') {
    const valueSchema = recordValueSchema(schema);
    for (const key of Object.keys(v)) v[key] = fill(valueSchema, v[key]);
  }
  return v;
}

export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

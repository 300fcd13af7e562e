// Reading the TypeBox schema as a person would: where a dotted key leads, and what a key
// expects in words ("an integer 0..65535", "one of "sqlite", "redis""). Error
// messages, env coercion and the redaction all go through these helpers.
import { Kind, type TSchema } from '@sinclair/typebox';

/** A key as a list of segments; numbers index arrays of tables. */
export type KeyPath = readonly (string | number)[];

/** `['auth', 'keys', 1, 'tenant']` → `auth.keys[1].tenant`. */
export function formatKey(path: KeyPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

export function kindOf(schema: TSchema): string {
  return String(schema[Kind]);
}

/** The schema of the value a segment leads to, or undefined if the key does not exist. */
export function childSchema(schema: TSchema, segment: string | number): TSchema | undefined {
  switch (kindOf(schema)) {
    case 'Object': {
      const properties = schema['properties'] as Record<string, TSchema>;
      return typeof segment === 'string' && Object.hasOwn(properties, segment) ? properties[segment] : undefined;
    }
    case 'Record':
      return typeof segment === 'string' ? recordValueSchema(schema) : undefined;
    case 'Array':
      return typeof segment === 'number' ? (schema['items'] as TSchema) : undefined;
    default:
      return undefined;
  }
}

export function schemaAt(root: TSchema, path: KeyPath): TSchema | undefined {
  let schema: TSchema | undefined = root;
  for (const segment of path) {
    if (schema === undefined) return undefined;
    schema = childSchema(schema, segment);
  }
  return schema;
}

export function recordValueSchema(schema: TSchema): TSchema {
  const [valueSchema] = Object.values(schema['patternProperties'] as Record<string, TSchema>);
  if (valueSchema === undefined) throw new TypeError('record schema without a value schema');
  return valueSchema;
}

/** Names a table accepts, for "did you mean" suggestions. */
export function knownKeys(schema: TSchema): string[] {
  return kindOf(schema) === 'Object' ? Object.keys(schema['properties'] as object) : [];
}

/** What a schema accepts, phrased to follow "expected". */
export function expected(schema: TSchema): string {
  switch (kindOf(schema)) {
    case 'Integer':
      return `an integer${range(schema)}`;
    case 'Number':
      return `a number${schema['unit'] === 'seconds' ? ' of seconds' : ''}${range(schema)}`;
    case 'Boolean':
      return 'true or false';
    case 'String':
      return describeString(schema);
    case 'Literal':
      return JSON.stringify(schema['const']);
    case 'Union': {
      const variants = schema['anyOf'] as TSchema[];
      if (variants.every((v) => kindOf(v) === 'Literal')) return `one of ${variants.map(expected).join(', ')}`;
      return variants.map(expected).join(' or ');
    }
    case 'Object':
      return 'a table';
    case 'Record':
      return 'a table of tables';
    case 'Array':
      return kindOf(schema['items'] as TSchema) === 'Object' ? 'an array of tables' : 'an array';
    default:
      return kindOf(schema);
  }
}

/** A found value, phrased to follow "got". */
export function found(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) return 'a table';
  return String(value);
}

function range(schema: TSchema): string {
  const min = schema['minimum'] as number | undefined;
  const max = schema['maximum'] as number | undefined;
  const exclusiveMin = schema['exclusiveMinimum'] as number | undefined;
  const exclusiveMax = schema['exclusiveMaximum'] as number | undefined;
  if (min !== undefined && max !== undefined) return ` ${min}..${max}`;
  const bounds = [
    min !== undefined ? `≥ ${min}` : exclusiveMin !== undefined ? `> ${exclusiveMin}` : undefined,
    max !== undefined ? `≤ ${max}` : exclusiveMax !== undefined ? `< ${exclusiveMax}` : undefined,
  ].filter((b) => b !== undefined);
  return bounds.length === 0 ? '' : ` ${bounds.join(' and ')}`;
}

function describeString(schema: TSchema): string {
  const min = schema['minLength'] as number | undefined;
  const max = schema['maxLength'] as number | undefined;
  const pattern = schema['pattern'] as string | undefined;
  const length = min !== undefined && max !== undefined ? ` of ${min}..${max} characters` : min !== undefined ? ` of at least ${min} characters` : '';
  if (pattern !== undefined) return `a string${length} matching ${pattern}`;
  return `a string${length}`;
}

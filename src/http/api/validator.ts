// Route schemas are TypeBox types checked by TypeBox's own compiler, not by fastify's Ajv:
// Ajv as fastify configures it coerces body types ("5" becomes 5) and silently drops unknown
// fields, and a client that sends either should hear about it. Query strings and path
// parameters are text by nature, so there (and only there) a numeric string becomes a number
// first, strictly: "5" is 5, "5.5" stays a non-integer, "5x" stays a string.
import type { FastifySchemaCompiler } from 'fastify';
import { Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';

const NUMERIC = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

function coerce(schema: TSchema, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const kind = schema[Kind] as string;
  if ((kind === 'Number' || kind === 'Integer') && NUMERIC.test(value)) return Number(value);
  if (kind === 'Boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/** Query strings and params: a flat object of strings. */
function coerceText(schema: TSchema, data: unknown): unknown {
  if (data === null || typeof data !== 'object') return data;
  const properties = (schema['properties'] ?? {}) as Record<string, TSchema>;
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const [key, sub] of Object.entries(properties)) if (key in out) out[key] = coerce(sub, out[key]);
  return Value.Default(schema, out);
}

export const typeboxValidator: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const text = httpPart === 'querystring' || httpPart === 'params';
  return (data: unknown) => {
    const value = text ? coerceText(schema, data) : data;
    if (check.Check(value)) return { value };
    const first = check.Errors(value).First();
    const where = first?.path ? `${httpPart === 'querystring' ? 'query' : httpPart}${first.path.replaceAll('/', '.')}` : (httpPart ?? 'request');
    const message = first ? first.message.charAt(0).toLowerCase() + first.message.slice(1) : 'invalid';
    return { error: new Error(`${where}: ${message}`) };
  };
};

import { Type, type TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { typeboxValidator } from '../../../src/http/api/validator.ts';

const validate = (schema: TSchema, httpPart: string, data: unknown) =>
  (typeboxValidator({ schema, httpPart, method: 'GET', url: '/' }) as (d: unknown) => { value?: unknown; error?: Error })(data);

describe('typeboxValidator', () => {
  const Query = Type.Object({ limit: Type.Integer({ minimum: 1, default: 50 }), wait: Type.Optional(Type.Number()), all: Type.Optional(Type.Boolean()) });

  it('turns numeric query text into numbers strictly, and fills defaults', () => {
    expect(validate(Query, 'querystring', { limit: '5', wait: '0.5', all: 'true', other: 'kept' }).value).toEqual({ limit: 5, wait: 0.5, all: true, other: 'kept' });
    expect(validate(Query, 'querystring', {}).value).toEqual({ limit: 50 });
    for (const bad of [{ limit: '5.5' }, { limit: '5x' }, { limit: '' }, { wait: '1e' }, { all: 'yes' }]) {
      expect(validate(Query, 'querystring', bad).error?.message, JSON.stringify(bad)).toMatch(/^query\.\w+: /);
    }
  });

  it('never coerces or strips a body: wrong types and unknown fields are errors', () => {
    const Body = Type.Object({ n: Type.Integer() }, { additionalProperties: false });
    expect(validate(Body, 'body', { n: 1 }).value).toEqual({ n: 1 });
    expect(validate(Body, 'body', { n: '1' }).error?.message).toBe('body.n: expected integer');
    expect(validate(Body, 'body', { n: 1, m: 2 }).error?.message).toBe('body.m: unexpected property');
    expect(validate(Body, 'body', null).error?.message).toBe('body: expected object');
  });
});

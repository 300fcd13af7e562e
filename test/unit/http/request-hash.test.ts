import { describe, expect, it } from 'vitest';
import { canonicalJson, requestHash } from '../../../src/http/api/request-hash.ts';

describe('canonicalJson', () => {
  const cases: [string, unknown, string][] = [
    ['scalars', [1, 'a', true, null], '[1,"a",true,null]'],
    ['keys sorted at every level', { b: 1, a: { d: [{ z: 1, y: 2 }], c: 2 } }, '{"a":{"c":2,"d":[{"y":2,"z":1}]},"b":1}'],
    ['undefined fields left out, as JSON.stringify does', { a: undefined, b: 1 }, '{"b":1}'],
    ['strings escaped', { 'k"': 'v\n' }, '{"k\\"":"v\\n"}'],
  ];
  it.each(cases)('%s', (_name, value, expected) => expect(canonicalJson(value)).toBe(expected));
});

describe('requestHash', () => {
  const task = { kind: 'task' };
  const cases: [string, [{ kind: string; sessionId?: string }, unknown], [{ kind: string; sessionId?: string }, unknown], boolean][] = [
    ['the same body', [task, { input: { q: 1 }, priority: 2 }], [task, { input: { q: 1 }, priority: 2 }], true],
    ['fields in another order', [task, { priority: 2, input: { b: 1, a: 2 } }], [task, { input: { a: 2, b: 1 }, priority: 2 }], true],
    ['the key in the body or not', [task, { input: 1, idempotency_key: 'k' }], [task, { input: 1 }], true],
    ['another input', [task, { input: { q: 1 } }], [task, { input: { q: 2 } }], false],
    ['another option', [task, { input: 1 }], [task, { input: 1, priority: 1 }], false],
    ['a task and a turn', [task, { message: 'hi' }], [{ kind: 'turn', sessionId: 's' }, { message: 'hi' }], false],
    ['turns of two sessions', [{ kind: 'turn', sessionId: 's1' }, { message: 'hi' }], [{ kind: 'turn', sessionId: 's2' }, { message: 'hi' }], false],
  ];
  it.each(cases)('%s', (_name, [ta, a], [tb, b], same) => expect(requestHash(ta, a) === requestHash(tb, b)).toBe(same));
});

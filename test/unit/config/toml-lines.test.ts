import { describe, expect, it } from 'vitest';
import { keyLines, lineOf } from '../../../src/config/toml-lines.ts';

const source = [
  'top = 1', //                                     1
  'a.b.c = "x = [ not a table"', //                 2
  '[server]', //                                    3
  '  port = 80   # comment with = sign', //         4
  '"quoted.key" = 1', //                            5
  '[[auth.keys]]', //                               6
  'tenant = "a"', //                                7
  '[[auth.keys]]', //                               8
  'tenant = """', //                                9
  'sha256 = "inside a string"', //                  10
  '"""', //                                         11
  'sha256 = "b"', //                                12
  '[auth.keys.extra]', //                           13
  'x = 1', //                                       14
  '[llm.providers."gpt.4"]', //                     15
  'list = [', //                                    16
  '  { inline = 1 },', //                           17
  ']', //                                           18
  'model = "m"', //                                 19
].join('\n');

describe('keyLines', () => {
  const lines = keyLines(source);

  it('finds keys, dotted keys and tables', () => {
    expect(lines.get('top')).toBe(1);
    expect(lines.get('a.b.c')).toBe(2);
    expect(lines.get('a')).toBe(2);
    expect(lines.get('server')).toBe(3);
    expect(lines.get('server.port')).toBe(4);
    expect(lines.get('server.quoted.key')).toBe(5);
  });

  it('numbers the elements of arrays of tables and their sub-tables', () => {
    expect(lines.get('auth.keys')).toBe(6);
    expect(lines.get('auth.keys[0].tenant')).toBe(7);
    expect(lines.get('auth.keys[1]')).toBe(8);
    expect(lines.get('auth.keys[1].tenant')).toBe(9);
    expect(lines.get('auth.keys[1].sha256')).toBe(12);
    expect(lines.get('auth.keys[1].extra.x')).toBe(14);
  });

  it('does not take the inside of strings and multi-line values for keys', () => {
    expect(lines.get('llm.providers.gpt.4.list')).toBe(16);
    expect(lines.get('llm.providers.gpt.4.model')).toBe(19);
    expect([...lines.keys()].some((k) => k.includes('inline'))).toBe(false);
  });

  it('falls back to the nearest enclosing key for keys it cannot see', () => {
    expect(lineOf(lines, ['auth', 'keys', 1, 'missing'])).toBe(8);
    expect(lineOf(lines, ['llm', 'providers', 'gpt.4', 'list', 0, 'inline'])).toBe(16);
    expect(lineOf(lines, ['store', 'path'])).toBeUndefined();
  });
});

// smol-toml reports positions only for syntax errors, not for keys, so to point a schema error
// at its line we scan the source for table headers and `key =` lines. The file has already
// parsed when this runs, so the scanner only has to follow valid TOML: [table] and
// [[array.of.tables]] headers, dotted and quoted keys, and values that span lines (multi-line
// strings, arrays and inline tables) whose insides must not be taken for keys.
import { formatKey, type KeyPath } from './describe.ts';

/** Maps each key and table the file defines (formatted, `auth.keys[1].tenant`) to its line. */
export type KeyLines = ReadonlyMap<string, number>;

export function keyLines(source: string): KeyLines {
  const lines = new Map<string, number>();
  const arrayIndex = new Map<string, number>(); // last element of each [[array]] seen so far
  const note = (path: KeyPath, line: number) => {
    const key = formatKey(path);
    if (!lines.has(key)) lines.set(key, line);
  };
  // Header segments name the latest element of any array of tables they pass through.
  const resolve = (segments: string[]): (string | number)[] => {
    const path: (string | number)[] = [];
    for (const segment of segments) {
      path.push(segment);
      const index = arrayIndex.get(formatKey(path));
      if (index !== undefined) path.push(index);
    }
    return path;
  };

  let table: KeyPath = [];
  let openString: string | undefined; // delimiter of a multi-line string still open
  let depth = 0; // open brackets of a value that spans lines
  source.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    if (openString !== undefined) {
      if (raw.includes(openString)) openString = undefined;
      return;
    }
    if (depth > 0) {
      depth += bracketDelta(raw);
      return;
    }
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('[[')) {
      const segments = splitKey(line.slice(2, line.indexOf(']]')));
      const arrayPath = [...resolve(segments.slice(0, -1)), segments.at(-1) ?? ''];
      const index = (arrayIndex.get(formatKey(arrayPath)) ?? -1) + 1;
      arrayIndex.set(formatKey(arrayPath), index);
      note(arrayPath, lineNo);
      table = [...arrayPath, index];
      note(table, lineNo);
      return;
    }
    if (line.startsWith('[')) {
      table = resolve(splitKey(line.slice(1, closingBracket(line))));
      for (let k = 1; k <= table.length; k++) note(table.slice(0, k), lineNo);
      return;
    }
    const eq = unquotedIndex(line, '=');
    if (eq < 0) return;
    const segments = splitKey(line.slice(0, eq));
    for (let k = 1; k <= segments.length; k++) note([...table, ...segments.slice(0, k)], lineNo);
    const value = line.slice(eq + 1).trim();
    const triple = value.startsWith('"""') ? '"""' : value.startsWith("'''") ? "'''" : undefined;
    if (triple !== undefined) {
      if (!value.slice(3).includes(triple)) openString = triple;
    } else {
      depth = bracketDelta(value);
    }
  });
  return lines;
}

/** The line of the key, or of the nearest enclosing key or table the file names. */
export function lineOf(lines: KeyLines, path: KeyPath): number | undefined {
  for (let k = path.length; k > 0; k--) {
    const line = lines.get(formatKey(path.slice(0, k)));
    if (line !== undefined) return line;
  }
  return undefined;
}

/** `a."b.c" . d` → ['a', 'b.c', 'd']. */
function splitKey(text: string): string[] {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '"' || c === "'") {
      const end = stringEnd(text, i);
      const quoted = text.slice(i, end + 1);
      current += c === '"' ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);
      i = end;
    } else if (c === '.') {
      segments.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  segments.push(current.trim());
  return segments;
}

/** Index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  return text.length - 1;
}

function unquotedIndex(text: string, char: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") i = stringEnd(text, i);
    else if (c === char) return i;
  }
  return -1;
}

function closingBracket(line: string): number {
  const i = unquotedIndex(line, ']');
  return i < 0 ? line.length : i;
}

/** Net brackets a line opens, ignoring strings and comments. */
function bracketDelta(text: string): number {
  let delta = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") i = stringEnd(text, i);
    else if (c === '#') break;
    else if (c === '[' || c === '{') delta++;
    else if (c === ']' || c === '}') delta--;
  }
  return delta;
}

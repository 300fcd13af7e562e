// Config errors are read by a person at a terminal who has to fix a file or a variable, so
// each one is a single line that says where (file:line or the variable), which key, what was
// expected and what was found. Codes are stable so the CLI and tests can switch on them.

export type ConfigErrorCode =
  | 'CONFIG_NOT_FOUND' // an explicitly named file does not exist
  | 'CONFIG_READ' // the file exists but cannot be read
  | 'CONFIG_PARSE' // TOML syntax error
  | 'CONFIG_UNKNOWN_KEY' // a key the schema does not know (in the file or a flag)
  | 'CONFIG_INVALID' // a value of the wrong type, out of range, or inconsistent with another
  | 'CONFIG_ENV'; // anything wrong with a DROVER_* environment override

/** One problem found while loading; a load can find several. */
export interface ConfigIssue {
  readonly code: ConfigErrorCode;
  /** One line: `drover.toml:12: supervisor.shutdown_timeout: expected …, got "ten"`. */
  readonly message: string;
  readonly file?: string;
  /** 1-based line in `file`, where it is known. */
  readonly line?: number;
  /** Dotted key, array elements as `auth.keys[1].tenant`. */
  readonly key?: string;
  /** The DROVER_* variable or `flag <key>` that set the value, for overrides. */
  readonly origin?: string;
}

/** Thrown by loadConfig. Describes the first problem; `issues` lists every one found. */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly file?: string;
  readonly line?: number;
  readonly key?: string;
  readonly origin?: string;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const first = issues[0];
    if (first === undefined) throw new TypeError('ConfigError needs at least one issue');
    super(first.message);
    this.name = 'ConfigError';
    this.code = first.code;
    this.file = first.file;
    this.line = first.line;
    this.key = first.key;
    this.origin = first.origin;
    this.issues = issues;
  }
}

/** Builds an issue whose message starts with its location: `file:line: `, `file: ` or `origin: `. */
export function issue(code: ConfigErrorCode, text: string, at: Omit<ConfigIssue, 'code' | 'message'> = {}): ConfigIssue {
  const where = at.origin ?? (at.file === undefined ? undefined : at.line === undefined ? at.file : `${at.file}:${at.line}`);
  return { code, message: where === undefined ? text : `${where}: ${text}`, ...at };
}

/** The known name closest to `name`, if it is close enough to be a plausible typo. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = levenshtein(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// Each broken configuration must be refused with the code, key and line a user needs to find
// and fix it, in a one-line message.
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.ts';
import { ConfigError, type ConfigErrorCode } from '../../../src/config/errors.ts';
import { tempDir } from './tmpfiles.ts';

const dir = tempDir();
afterAll(() => dir.remove());

interface Case {
  readonly name: string;
  readonly toml?: string;
  readonly env?: Record<string, string>;
  readonly flags?: Record<string, unknown>;
  readonly code: ConfigErrorCode;
  readonly key: string | undefined;
  readonly line: number | undefined;
  /** Exact message, with the temp dir stripped from the file name. */
  readonly message: string;
}

const HASH = 'a'.repeat(64);

const cases: Case[] = [
  {
    name: 'TOML: a key defined twice',
    toml: '[server]\nport = 80\nport = 81\n',
    code: 'CONFIG_PARSE', key: undefined, line: 3,
    message: 'drover.toml:3: invalid TOML: trying to redefine an already defined table or value (column 1)',
  },
  {
    name: 'TOML: unterminated string',
    toml: '[server]\n\nhost = "127.0.0.1\n',
    code: 'CONFIG_PARSE', key: undefined, line: 3,
    message: 'drover.toml:3: invalid TOML: control characters are not allowed in strings (column 18)',
  },
  {
    name: 'TOML: key without a value',
    toml: '[supervisor]\nchildren =\n',
    code: 'CONFIG_PARSE', key: undefined, line: 2,
    message: 'drover.toml:2: invalid TOML: invalid value (column 11)',
  },
  {
    name: 'wrong type: a word for seconds',
    toml: '[server]\nport = 8080\n\n[supervisor]\nready_timeout = 5\nshutdown_timeout = "ten"\n',
    code: 'CONFIG_INVALID', key: 'supervisor.shutdown_timeout', line: 6,
    message: 'drover.toml:6: supervisor.shutdown_timeout: expected a number of seconds ≥ 0, got "ten"',
  },
  {
    name: 'out of range: port above 65535',
    toml: '[server]\nport = 70000\n',
    code: 'CONFIG_INVALID', key: 'server.port', line: 2,
    message: 'drover.toml:2: server.port: expected an integer 0..65535, got 70000',
  },
  {
    name: 'a fraction where an integer is expected',
    toml: '[server]\nhost = "0.0.0.0"\nbacklog = 1.5\n',
    code: 'CONFIG_INVALID', key: 'server.backlog', line: 3,
    message: 'drover.toml:3: server.backlog: expected an integer 1..65535, got 1.5',
  },
  {
    name: 'exclusive minimum',
    toml: '[autoscale]\ntarget_slot_utilization = 0\n',
    code: 'CONFIG_INVALID', key: 'autoscale.target_slot_utilization', line: 2,
    message: 'drover.toml:2: autoscale.target_slot_utilization: expected a number > 0 and ≤ 1, got 0',
  },
  {
    name: 'a backend that does not exist',
    toml: '[store]\nbackend = "postgres"\n',
    code: 'CONFIG_INVALID', key: 'store.backend', line: 2,
    message: 'drover.toml:2: store.backend: expected one of "sqlite", "redis", got "postgres"',
  },
  {
    name: 'a key drover dropped says what to do instead',
    toml: '[balancer]\nchild_target = 64\nstrategy = "least-load"\n',
    code: 'CONFIG_UNKNOWN_KEY', key: 'balancer.strategy', line: 3,
    message: 'drover.toml:3: unknown key balancer.strategy (removed: drover always balances by least load; delete the line)',
  },
  {
    name: '"auto" or an integer',
    toml: '[supervisor]\nchildren = "many"\n',
    code: 'CONFIG_INVALID', key: 'supervisor.children', line: 2,
    message: 'drover.toml:2: supervisor.children: expected "auto" or an integer 1..256, got "many"',
  },
  {
    name: 'a string for a boolean',
    toml: '[admin]\nenabled = "yes"\n',
    code: 'CONFIG_INVALID', key: 'admin.enabled', line: 2,
    message: 'drover.toml:2: admin.enabled: expected true or false, got "yes"',
  },
  {
    name: 'a section given as a value',
    toml: '# drover\nserver = 5\n',
    code: 'CONFIG_INVALID', key: 'server', line: 2,
    message: 'drover.toml:2: server: expected a table, got 5',
  },
  {
    name: 'unknown section',
    toml: '[server]\nport = 1\n\n[servr]\nport = 2\n',
    code: 'CONFIG_UNKNOWN_KEY', key: 'servr', line: 4,
    message: 'drover.toml:4: unknown key servr (did you mean server?)',
  },
  {
    name: 'unknown top-level key with nothing close',
    toml: 'verbose = true\n',
    code: 'CONFIG_UNKNOWN_KEY', key: 'verbose', line: 1,
    message: 'drover.toml:1: unknown key verbose',
  },
  {
    name: 'unknown key in a section',
    toml: '[supervisor]\nready_timeout = 5\nshutdown_timout = 10\n',
    code: 'CONFIG_UNKNOWN_KEY', key: 'supervisor.shutdown_timout', line: 3,
    message: 'drover.toml:3: unknown key supervisor.shutdown_timout (did you mean shutdown_timeout?)',
  },
  {
    name: 'unknown key written as a dotted key',
    toml: 'server.port = 1\nsupervisor.shutdown_timout = 10\n',
    code: 'CONFIG_UNKNOWN_KEY', key: 'supervisor.shutdown_timout', line: 2,
    message: 'drover.toml:2: unknown key supervisor.shutdown_timout (did you mean shutdown_timeout?)',
  },
  {
    name: 'unknown key in a provider table',
    toml: '[llm]\ndefault_provider = "openai"\n\n[llm.providers.openai]\nbase_url = "http://x"\nmodle = "gpt"\n',
    code: 'CONFIG_UNKNOWN_KEY', key: 'llm.providers.openai.modle', line: 6,
    message: 'drover.toml:6: unknown key llm.providers.openai.modle (did you mean model?)',
  },
  {
    name: 'bad value in a provider table',
    toml: '[llm.providers.mock]\nmock_failure_rate = 1.5\n',
    code: 'CONFIG_INVALID', key: 'llm.providers.mock.mock_failure_rate', line: 2,
    message: 'drover.toml:2: llm.providers.mock.mock_failure_rate: expected a number 0..1, got 1.5',
  },
  {
    name: 'bad value in an inline table points at its line',
    toml: '[llm]\nproviders = { mock = { timeout = 0 } }\n',
    code: 'CONFIG_INVALID', key: 'llm.providers.mock.timeout', line: 2,
    message: 'drover.toml:2: llm.providers.mock.timeout: expected a number of seconds ≥ 0.1, got 0',
  },
  {
    name: 'array table entry without a tenant',
    toml: `[[auth.keys]]\nsha256 = "${HASH}"\ntenant = "a"\n\n[[auth.keys]]\nsha256 = "${HASH}"\n`,
    code: 'CONFIG_INVALID', key: 'auth.keys[1].tenant', line: 5,
    message: 'drover.toml:5: auth.keys[1].tenant: missing, expected a string of 1..128 characters matching ^[A-Za-z0-9._-]+$',
  },
  {
    name: 'array table entry with a hash that is not hex',
    toml: `[[auth.keys]]\nsha256 = "${HASH}"\ntenant = "a"\n[[auth.keys]]\ntenant = "b"\nsha256 = "not-a-hash"\n`,
    code: 'CONFIG_INVALID', key: 'auth.keys[1].sha256', line: 6,
    message: 'drover.toml:6: auth.keys[1].sha256: expected a string matching ^[0-9a-f]{64}$, got "not-a-hash"',
  },
  {
    name: 'unknown key in an array table entry',
    toml: `[[auth.keys]]\nsha256 = "${HASH}"\ntennant = "a"\n`,
    code: 'CONFIG_UNKNOWN_KEY', key: 'auth.keys[0].tennant', line: 3,
    message: 'drover.toml:3: unknown key auth.keys[0].tennant (did you mean tenant?)',
  },
  {
    name: 'lines are counted past multi-line strings and arrays',
    toml: '[executor]\nagent = """\n[server]\nport = 1\n"""\nthreads = [\n  1,\n  2,\n]\n',
    code: 'CONFIG_INVALID', key: 'executor.threads', line: 6,
    message: 'drover.toml:6: executor.threads: expected "auto" or an integer 1..256, got an array',
  },
  {
    name: 'default provider that is not defined',
    toml: '[llm.providers.openai]\nbase_url = "https://api.openai.com/v1"\n',
    code: 'CONFIG_INVALID', key: 'llm.default_provider', line: 1,
    message: 'drover.toml:1: llm.default_provider: expected a provider of llm.providers (defined: "openai"), got "mock"',
  },
  {
    name: 'max_children below min_children',
    toml: '[autoscale]\nmin_children = 4\nmax_children = 2\n',
    code: 'CONFIG_INVALID', key: 'autoscale.max_children', line: 3,
    message: 'drover.toml:3: autoscale.max_children: expected at least autoscale.min_children (4), got 2',
  },
  {
    name: 'admin endpoint on a public address',
    toml: '[admin]\nport = 9100\nhost = "0.0.0.0"\n',
    code: 'CONFIG_INVALID', key: 'admin.host', line: 3,
    message: 'drover.toml:3: admin.host: "0.0.0.0" is not a loopback address; set admin.allow_remote = true and admin.token to serve /metrics and /status remotely',
  },
  {
    name: 'env: not an integer',
    env: { DROVER_SERVER__PORT: 'abc' },
    code: 'CONFIG_ENV', key: 'server.port', line: undefined,
    message: 'DROVER_SERVER__PORT: expected an integer 0..65535, got "abc"',
  },
  {
    name: 'env: the value in the file is overridden, the override is wrong',
    toml: '[executor]\nheadroom = 2\n',
    env: { DROVER_EXECUTOR__HEADROOM: '0.5' },
    code: 'CONFIG_ENV', key: 'executor.headroom', line: undefined,
    message: 'DROVER_EXECUTOR__HEADROOM: expected a number ≥ 1, got 0.5',
  },
  {
    name: 'env: unknown section',
    env: { DROVER_SERVR__PORT: '9000' },
    code: 'CONFIG_ENV', key: 'servr', line: undefined,
    message: 'DROVER_SERVR__PORT: unknown key servr (did you mean server?)',
  },
  {
    name: 'env: unknown key',
    env: { DROVER_SUPERVISOR__SHUTDOWN_TIMOUT: '10' },
    code: 'CONFIG_ENV', key: 'supervisor.shutdown_timout', line: undefined,
    message: 'DROVER_SUPERVISOR__SHUTDOWN_TIMOUT: unknown key supervisor.shutdown_timout (did you mean shutdown_timeout?)',
  },
  {
    name: 'env: an array that is not JSON',
    env: { DROVER_AUTH__KEYS: 'key1,key2' },
    code: 'CONFIG_ENV', key: 'auth.keys', line: undefined,
    message: 'DROVER_AUTH__KEYS: expected an array of tables written as JSON, got "key1,key2"',
  },
  {
    name: 'env: a bad entry inside JSON names the inner key',
    env: { DROVER_AUTH__KEYS: '[{"sha256":"x","tenant":"a"}]' },
    code: 'CONFIG_ENV', key: 'auth.keys[0].sha256', line: undefined,
    message: 'DROVER_AUTH__KEYS: auth.keys[0].sha256: expected a string matching ^[0-9a-f]{64}$, got "x"',
  },
  {
    name: 'env: a key below an array',
    env: { DROVER_AUTH__KEYS__TENANT: 'a' },
    code: 'CONFIG_ENV', key: 'auth.keys.tenant', line: undefined,
    message: 'DROVER_AUTH__KEYS__TENANT: auth.keys is an array of tables; set it whole, as JSON',
  },
  {
    name: 'flag: out of range',
    flags: { 'server.port': '-1' },
    code: 'CONFIG_INVALID', key: 'server.port', line: undefined,
    message: 'flag server.port: expected an integer 0..65535, got -1',
  },
  {
    name: 'flag: unknown key',
    flags: { 'server.prot': 9000 },
    code: 'CONFIG_UNKNOWN_KEY', key: 'server.prot', line: undefined,
    message: 'flag server.prot: unknown key server.prot (did you mean port?)',
  },
];

function failure(c: Case, index: number): ConfigError {
  const file = c.toml === undefined ? undefined : dir.write(`${index}/drover.toml`, c.toml);
  try {
    loadConfig({ file, env: c.env ?? {}, flags: c.flags, search: [] });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

describe('invalid configurations', () => {
  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', (_, c, index) => {
    const err = failure(c, index);
    expect(err.message.replaceAll(`${dir.path}/${index}/`, '')).toBe(c.message);
    expect(err.code).toBe(c.code);
    expect(err.key).toBe(c.key);
    expect(err.line).toBe(c.line);
    expect(err.message).not.toContain('\n');
  });

  it('refuses a file that was named but does not exist', () => {
    const missing = `${dir.path}/nope/drover.toml`;
    const err = (() => { try { loadConfig({ file: missing, env: {} }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code: 'CONFIG_NOT_FOUND', file: missing, message: `${missing}: config file not found` });
  });

  it('refuses a DROVER_CONFIG file that does not exist, naming the variable', () => {
    const missing = `${dir.path}/nope/env.toml`;
    expect(() => loadConfig({ env: { DROVER_CONFIG: missing } })).toThrow(
      expect.objectContaining({ code: 'CONFIG_NOT_FOUND', message: `DROVER_CONFIG: config file ${missing} not found` }),
    );
  });

  it('lists every problem, file lines first in order, then variables, then flags', () => {
    const file = dir.write('many/drover.toml', '[server]\nport = "x"\n[balancer]\nchild_target = "x"\n[supervisor]\nchildrn = 2\n');
    let err: unknown;
    try {
      loadConfig({ file, env: { DROVER_LOG__LEVEL: 'loud' }, flags: { 'admin.port': 'y' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues.map((i) => [i.key, i.line])).toEqual([
      ['server.port', 2],
      ['balancer.child_target', 4],
      ['supervisor.childrn', 6],
      ['log.level', undefined],
      ['admin.port', undefined],
    ]);
    expect(issues[3]?.code).toBe('CONFIG_ENV');
  });
});

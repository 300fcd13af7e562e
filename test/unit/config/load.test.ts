import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, resolveModulePath } from '../../../src/config/load.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { tempDir } from './tmpfiles.ts';

const dir = tempDir();
afterAll(() => dir.remove());

describe('loadConfig', () => {
  it('runs on defaults when no file is named and none is found', () => {
    const loaded = loadConfig({ env: {}, search: [`${dir.path}/absent.toml`] });
    expect(loaded.config).toEqual(defaultConfig());
    expect(loaded.file).toBeUndefined();
    expect(loaded.sources).toEqual({});
    expect(loaded.config.llm.providers['mock']?.max_concurrency).toBe(256);
  });

  it('uses the first file of the search list that exists', () => {
    const second = dir.write('search/b.toml', '[server]\nport = 7002\n');
    const third = dir.write('search/c.toml', '[server]\nport = 7003\n');
    const loaded = loadConfig({ env: {}, search: [`${dir.path}/search/a.toml`, second, third] });
    expect(loaded.file).toBe(second);
    expect(loaded.config.server.port).toBe(7002);
    expect(loaded.sources['server.port']).toEqual({ kind: 'file', file: second, line: 2 });
  });

  it('reads DROVER_CONFIG when no file is named, and a named file wins over it', () => {
    const fromEnv = dir.write('env-file/a.toml', '[server]\nport = 7101\n');
    const named = dir.write('env-file/b.toml', '[server]\nport = 7102\n');
    expect(loadConfig({ env: { DROVER_CONFIG: fromEnv }, search: [] }).config.server.port).toBe(7101);
    expect(loadConfig({ file: named, env: { DROVER_CONFIG: fromEnv } }).config.server.port).toBe(7102);
  });

  it('applies defaults < file < env < flags, and records where each value came from', () => {
    const file = dir.write('precedence/drover.toml', [
      '[server]',
      'port = 7000',
      'host = "127.0.0.2"',
      'backlog = 100',
      '[supervisor]',
      'children = 3',
    ].join('\n'));
    const loaded = loadConfig({
      file,
      env: { DROVER_SERVER__PORT: '8000', DROVER_SERVER__HOST: '127.0.0.3' },
      flags: { 'server.port': '9000', 'supervisor.children': 2 },
    });
    const { server, supervisor, balancer } = loaded.config;
    expect([server.port, server.host, server.backlog, supervisor.children]).toEqual([9000, '127.0.0.3', 100, 2]);
    expect(balancer.child_target).toBe(256);
    expect(loaded.sources).toEqual({
      'server.port': { kind: 'flag', flag: 'server.port' },
      'server.host': { kind: 'env', variable: 'DROVER_SERVER__HOST' },
      'server.backlog': { kind: 'file', file, line: 4 },
      'supervisor.children': { kind: 'flag', flag: 'supervisor.children' },
    });
  });

  it('coerces env strings to the type of their key', () => {
    const { config } = loadConfig({
      search: [],
      env: {
        DROVER_SERVER__PORT: '9000',
        DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2.5',
        DROVER_ADMIN__ENABLED: 'false',
        DROVER_SUPERVISOR__CHILDREN: '4',
        DROVER_EXECUTOR__THREADS: 'auto',
        DROVER_BALANCER__CHILD_TARGET: '128',
        DROVER_STORE__QUEUE_LIMIT: '1_000',
        DROVER_LOG__LEVEL: 'debug',
        DROVER_AUTH__KEYS: JSON.stringify([{ sha256: 'b'.repeat(64), tenant: 'acme' }]),
      },
    });
    expect(config.server.port).toBe(9000);
    expect(config.supervisor.shutdown_timeout).toBe(2.5);
    expect(config.admin.enabled).toBe(false);
    expect(config.supervisor.children).toBe(4);
    expect(config.executor.threads).toBe('auto');
    expect(config.balancer.child_target).toBe(128);
    expect(config.store.queue_limit).toBe(1000);
    expect(config.log.level).toBe('debug');
    expect(config.auth.keys).toEqual([{ sha256: 'b'.repeat(64), tenant: 'acme' }]);
  });

  it('ignores DROVER_ variables that are not DROVER_<SECTION>__<KEY>', () => {
    const { config } = loadConfig({ search: [], env: { DROVER_CHILD_ID: '3', DROVER_SERVER_PORT: 'x' } });
    expect(config).toEqual(defaultConfig());
  });

  it('sets one key of a provider from env and keeps the provider\'s other keys', () => {
    const file = dir.write('provider-env/drover.toml', '[llm.providers.mock]\nmodel = "m"\nconnections = 8\n');
    const { config } = loadConfig({ file, env: { DROVER_LLM__PROVIDERS__MOCK__MOCK_LATENCY_MS: '5' } });
    expect(config.llm.providers['mock']).toMatchObject({ model: 'm', connections: 8, mock_latency_ms: 5, max_concurrency: 256 });
  });

  it('replaces the built-in providers with the ones the file defines, each filled with defaults', () => {
    const file = dir.write('providers/drover.toml', [
      '[llm]',
      'default_provider = "openai"',
      '[llm.providers.openai]',
      'base_url = "https://api.openai.com/v1"',
      'max_concurrency = 32',
    ].join('\n'));
    const { config } = loadConfig({ file, env: {} });
    expect(Object.keys(config.llm.providers)).toEqual(['openai']);
    expect(config.llm.providers['openai']).toEqual({ ...defaultConfig().llm.providers['mock'], base_url: 'https://api.openai.com/v1', max_concurrency: 32 });
  });

  it('accepts dotted and quoted keys and inline tables', () => {
    const file = dir.write('syntax/drover.toml', [
      'server.port = 7300',
      '"log".level = "warn"',
      '[llm]',
      'providers = { mock = { mock_latency_ms = 1 } }',
    ].join('\n'));
    const loaded = loadConfig({ file, env: {} });
    expect([loaded.config.server.port, loaded.config.log.level, loaded.config.llm.providers['mock']?.mock_latency_ms]).toEqual([7300, 'warn', 1]);
    expect(loaded.sources['log.level']).toEqual({ kind: 'file', file, line: 2 });
    expect(loaded.sources['llm.providers.mock.mock_latency_ms']).toEqual({ kind: 'file', file, line: 4 });
  });

  it('records each element of an array of tables by its index', () => {
    const file = dir.write('keys/drover.toml', [
      '[[auth.keys]]',
      `sha256 = "${'1'.repeat(64)}"`,
      'tenant = "a"',
      '[[auth.keys]]',
      `sha256 = "${'2'.repeat(64)}"`,
      'tenant = "b"',
    ].join('\n'));
    const loaded = loadConfig({ file, env: {} });
    expect(loaded.config.auth.keys.map((k) => k.tenant)).toEqual(['a', 'b']);
    expect(loaded.sources['auth.keys[1].tenant']).toEqual({ kind: 'file', file, line: 6 });
  });

  it('does not let one load change the next (defaults are copied, not shared)', () => {
    const first = loadConfig({ env: {}, search: [] });
    first.config.llm.providers['mock']!.model = 'changed';
    first.config.auth.keys.push({ sha256: 'c'.repeat(64), tenant: 'x' });
    const second = loadConfig({ env: {}, search: [] });
    expect(second.config).toEqual(defaultConfig());
  });
});

describe('http.plugin', () => {
  it.each([
    ['', { kind: 'file', file: '/etc/drover/drover.toml' }, ''],
    ['/srv/app/routes.ts', { kind: 'file', file: '/etc/drover/drover.toml' }, '/srv/app/routes.ts'],
    ['./routes.ts', { kind: 'file', file: '/etc/drover/drover.toml' }, '/etc/drover/routes.ts'],
    ['../app/routes.mjs', { kind: 'file', file: 'conf/drover.toml' }, '/home/me/app/routes.mjs'],
    ['routes.js', { kind: 'env', variable: 'DROVER_HTTP__PLUGIN' }, '/home/me/routes.js'],
    ['./routes.js', { kind: 'flag', flag: 'http.plugin' }, '/home/me/routes.js'],
  ] as const)('%s set in %j is %s', (path, source, expected) => {
    expect(resolveModulePath(path, source, '/home/me')).toBe(expected);
  });

  it('a relative path in the file is relative to the file, wherever drover runs', () => {
    const file = dir.write('plugin/conf/drover.toml', '[http]\nplugin = "./routes.ts"\n');
    expect(loadConfig({ file, env: {} }).config.http.plugin).toBe(`${dir.path}/plugin/conf/routes.ts`);
    expect(loadConfig({ file, env: { DROVER_HTTP__PLUGIN: '/abs/r.mjs' } }).config.http.plugin).toBe('/abs/r.mjs');
  });
});

// The [store] keys of the Redis backend: a url it can use, and never a password shown.
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { redactConfig } from '../../../src/config/redact.ts';
import { tempDir } from './tmpfiles.ts';

const dir = tempDir();
afterAll(() => dir.remove());

function issuesOf(text: string) {
  const file = dir.write(`store-${Math.random().toString(36).slice(2)}.toml`, text);
  try {
    loadConfig({ file, env: {} });
  } catch (err) {
    return { file, issues: (err as ConfigError).issues };
  }
  return { file, issues: [] };
}

describe('[store] for the redis backend', () => {
  it('takes backend = "redis" with a url, prefix and password variable', () => {
    const file = dir.write('store-ok.toml', '[store]\nbackend = "redis"\nurl = "redis://10.0.0.5:6380/2"\nprefix = "fleet-a"\npassword_env = "REDIS_PW"\n');
    expect(loadConfig({ file, env: {} }).config.store).toMatchObject({ backend: 'redis', url: 'redis://10.0.0.5:6380/2', prefix: 'fleet-a', password_env: 'REDIS_PW' });
  });

  it('names store.url with its file and line when the redis backend has none or a bad one', () => {
    for (const text of ['[store]\nbackend = "redis"\n', '[store]\nbackend = "redis"\nurl = "http://x:y@host"\n']) {
      const { file, issues } = issuesOf(text);
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ key: 'store.url', file });
      expect(issues[0]?.line).toBeGreaterThan(0);
      expect(issues[0]?.message).not.toContain('x:y');
    }
  });

  it('takes sentinels or cluster nodes instead of a url', () => {
    const sentinel = dir.write('store-sentinel.toml', '[store]\nbackend = "redis"\nsentinels = ["10.0.0.5:26379", "redis-b"]\nsentinel_name = "queue"\n');
    expect(loadConfig({ file: sentinel, env: {} }).config.store).toMatchObject({ sentinels: ['10.0.0.5:26379', 'redis-b'], sentinel_name: 'queue', url: '' });
    const cluster = dir.write('store-cluster.toml', '[store]\nbackend = "redis"\ncluster_nodes = ["[fd00::5]:7000", "10.0.0.6"]\ntls = true\n');
    expect(loadConfig({ file: cluster, env: {} }).config.store).toMatchObject({ cluster_nodes: ['[fd00::5]:7000', '10.0.0.6'], tls: true });
  });

  it('refuses two of url, sentinels and cluster_nodes, and an address that is not host:port', () => {
    const both = issuesOf('[store]\nbackend = "redis"\nurl = "redis://10.0.0.5"\ncluster_nodes = ["10.0.0.6:7000"]\n').issues;
    expect(both.map((i) => i.key)).toEqual(['store.cluster_nodes']);
    expect(both[0]?.message).toMatch(/:4: store\.cluster_nodes: expected one of store\.url, store\.sentinels and store\.cluster_nodes, got store\.url and store\.cluster_nodes$/);
    const bad = issuesOf('[store]\nbackend = "redis"\nsentinels = ["10.0.0.5:26379/0"]\n').issues;
    expect(bad.map((i) => i.key)).toEqual(['store.sentinels']);
    expect(bad[0]?.message).toContain('expected host:port addresses');
  });

  it('takes the sentinels\' own password variable with sentinels, and refuses it without them', () => {
    const ok = dir.write('store-sentinel-pw.toml', '[store]\nbackend = "redis"\nsentinels = ["10.0.0.5:26379"]\nsentinel_password_env = "SENTINEL_PW"\n');
    expect(loadConfig({ file: ok, env: {} }).config.store).toMatchObject({ sentinels: ['10.0.0.5:26379'], sentinel_password_env: 'SENTINEL_PW' });
    const { file, issues } = issuesOf('[store]\nbackend = "redis"\nurl = "redis://10.0.0.5"\nsentinel_password_env = "SENTINEL_PW"\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ key: 'store.sentinel_password_env', file, line: 4 });
    expect(issues[0]?.message).toMatch(/store\.sentinel_password_env: set without store\.sentinels: it is the sentinels' own password \(the Redis password is store\.password_env\)$/);
  });

  it('rejects a prefix that is not a plain name', () => {
    expect(issuesOf('[store]\nprefix = "a{b}"\n').issues.map((i) => i.key)).toEqual(['store.prefix']);
  });

  it('never shows a password written into the url', () => {
    const file = dir.write('store-secret.toml', '[store]\nbackend = "redis"\nurl = "redis://:hunter2@10.0.0.5:6379"\n');
    const shown = JSON.stringify(redactConfig(loadConfig({ file, env: {} }).config));
    expect(shown).not.toContain('hunter2');
    expect(shown).toContain('10.0.0.5:6379');
  });
});

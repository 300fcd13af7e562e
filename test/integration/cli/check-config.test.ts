import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDrover, stopAll, tempDir } from '../../helpers/drover.ts';
import { cli } from '../../helpers/cli.ts';

afterAll(stopAll);

function files(entries: Record<string, string>): string {
  const dir = tempDir();
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('check-config', () => {
  it('reports every error of the file in one run', async () => {
    const dir = files({ 'drover.toml': '[server]\nport = "x"\n[supervisor]\nchildren = 0\n[log]\nlevel = "loud"\n' });
    const r = await cli(['check-config', '-c', join(dir, 'drover.toml')]);
    expect(r.code).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^drover: .*drover\.toml:2: server\.port/);
    expect(lines[1]).toMatch(/^drover: .*drover\.toml:4: supervisor\.children/);
    expect(lines[2]).toMatch(/^drover: .*drover\.toml:6: log\.level/);
  });

  it('reports an anonymous public address and a missing agent in the same run', async () => {
    const dir = files({ 'drover.toml': `[server]\nhost = "0.0.0.0"\n[executor]\nagent = "./nope.mjs"\n` });
    const r = await cli(['check-config', '-c', join(dir, 'drover.toml')]);
    expect(r.code).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^drover: server\.host = "0\.0\.0\.0" is not a loopback address/);
    expect(lines[1]).toMatch(/executor\.agent: no such file .*nope\.mjs$/);
  });

  it('loads the agent module: a missing file, a syntax error with its own file and line, a bad export', async () => {
    const dir = files({
      'syntax.mjs': 'export default async function run(input) {\n  return input +;\n}\n',
      'shape.mjs': 'export const answer = 42;\n',
      'good.mjs': 'export default async (input) => input;\n',
    });
    const check = (agent: string) => {
      writeFileSync(join(dir, 'drover.toml'), `[executor]\nagent = "${join(dir, agent)}"\n`);
      return cli(['check-config', '-c', join(dir, 'drover.toml')]);
    };
    const missing = await check('nope.mjs');
    expect(missing.code).toBe(3);
    expect(missing.stderr.trim()).toBe(`drover: ${join(dir, 'drover.toml')}:2: executor.agent: no such file ${join(dir, 'nope.mjs')}`);
    const syntax = await check('syntax.mjs');
    expect(syntax.code).toBe(3);
    expect(syntax.stderr.trim()).toBe(`drover: ${join(dir, 'drover.toml')}:2: executor.agent: ${join(dir, 'syntax.mjs')}:2: SyntaxError: Unexpected token ';'`);
    const shape = await check('shape.mjs');
    expect(shape.code).toBe(3);
    expect(shape.stderr).toMatch(/must export a run\(input, ctx\) function/);
    expect((await check('good.mjs')).code).toBe(0);
  });

  it('warns when a provider\'s api_key_env is not set', async () => {
    const dir = files({ 'drover.toml': '[llm]\ndefault_provider = "openai"\n[llm.providers.openai]\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "DROVER_TEST_UNSET_KEY"\n' });
    const r = await cli(['check-config', '-c', join(dir, 'drover.toml')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^warning: .*drover\.toml:5: llm\.providers\.openai\.api_key_env: DROVER_TEST_UNSET_KEY is not set/m);
    const set = await cli(['check-config', '-c', join(dir, 'drover.toml')], { DROVER_TEST_UNSET_KEY: 'sk-test' });
    expect(set.stdout).not.toMatch(/warning/);
  });

  it('fails when the Redis password variable it names is not set, with the file and line', async () => {
    const dir = files({ 'drover.toml': '[store]\nbackend = "redis"\nurl = "redis://127.0.0.1:9"\npassword_env = "DROVER_TEST_UNSET_REDIS_PW"\n' });
    const r = await cli(['check-config', '-c', join(dir, 'drover.toml')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/drover\.toml:4: store\.password_env: DROVER_TEST_UNSET_REDIS_PW is not set in the environment/);
    const set = await cli(['check-config', '-c', join(dir, 'drover.toml')], { DROVER_TEST_UNSET_REDIS_PW: 'secret' });
    expect(set.code).toBe(0);
  });

  it('start refuses a broken agent before it forks a child', async () => {
    const dir = files({ 'syntax.mjs': 'export default async function run(input) {\n  return input +;\n}\n' });
    const d = await startDrover({ args: ['start', '--port', '0'], env: { DROVER_EXECUTOR__AGENT: join(dir, 'syntax.mjs') }, waitStarted: false });
    expect((await d.exitWithin(30_000)).code).toBe(3);
    expect(d.stderr.trim()).toBe(`drover: DROVER_EXECUTOR__AGENT: executor.agent: ${join(dir, 'syntax.mjs')}:2: SyntaxError: Unexpected token ';'`);
    expect(d.logs.some((l) => l.msg === 'fork' || l.msg === 'listening')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { REDACTED, redactConfig } from '../../../src/config/redact.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';

describe('redactConfig', () => {
  const config = defaultConfig();
  config.admin.token = 'admin-secret-token';
  config.auth.keys = [{ sha256: '0123456789abcdef'.repeat(4), tenant: 'acme' }];
  config.llm.providers['mock'] = { ...config.llm.providers['mock']!, base_url: 'https://user:hunter2@llm.example/v1', api_key_env: 'OPENAI_API_KEY' };
  const shown = redactConfig(config);
  const text = JSON.stringify(shown);

  it('hides the admin token and shortens API key hashes', () => {
    expect(shown.admin.token).toBe(REDACTED);
    expect(shown.auth.keys[0]).toEqual({ sha256: '01234567…', tenant: 'acme' });
    expect(text).not.toContain('admin-secret-token');
    expect(text).not.toContain('0123456789abcdef0123');
  });

  it('removes credentials from provider URLs but keeps the rest', () => {
    expect(shown.llm.providers['mock']?.base_url).toBe('https://llm.example/v1');
    expect(shown.llm.providers['mock']?.api_key_env).toBe('OPENAI_API_KEY');
    expect(text).not.toContain('hunter2');
  });

  it('redacts any key ending in token, secret or password, at any depth', () => {
    const odd = { ...defaultConfig(), extra: { nested: [{ db_password: 'p', client_secret: 's', tokens_per_minute: 5 }] } };
    expect(redactConfig(odd as never)).toMatchObject({ extra: { nested: [{ db_password: REDACTED, client_secret: REDACTED, tokens_per_minute: 5 }] } });
  });

  it('leaves an empty token empty (nothing to hide, and it shows none is set) and the input unchanged', () => {
    expect(redactConfig(defaultConfig()).admin.token).toBe('');
    expect(config.admin.token).toBe('admin-secret-token');
    expect(shown.server).toEqual(config.server);
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.ts';

// HAProxy obeys whatever the agent says (drain, down, maxconn): it must not listen publicly.
describe('[fleet] agent_host', () => {
  const load = (host: string, port = '9901') => () => loadConfig({ env: { DROVER_FLEET__AGENT_PORT: port, DROVER_FLEET__AGENT_HOST: host } });
  it.each(['127.0.0.1', '::1', '10.1.2.3', '172.16.0.9', '172.31.255.1', '192.168.1.20', 'fd12:3456::1'])('accepts %s', (host) => {
    expect(load(host)).not.toThrow();
  });
  it.each(['0.0.0.0', '8.8.8.8', '172.32.0.1', '2001:db8::1', 'node.example.com'])('refuses %s, naming the key', (host) => {
    expect(load(host)).toThrow(/fleet\.agent_host.*neither a loopback nor a private address/);
  });
  it('any address while the agent is off', () => {
    expect(load('0.0.0.0', '0')).not.toThrow();
  });
});

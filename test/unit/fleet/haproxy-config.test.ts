import { describe, expect, it } from 'vitest';
import { haproxyConfig, parseNodeAddress, type HaproxyConfigOptions } from '../../../src/fleet/haproxy-config.ts';

describe('parseNodeAddress', () => {
  it.each([
    ['10.0.0.1:8080', { host: '10.0.0.1', port: 8080 }],
    ['10.0.0.1', { host: '10.0.0.1', port: 8080 }],
    ['[fd00::1]:9000', { host: 'fd00::1', port: 9000 }],
    ['[fd00::1]', { host: 'fd00::1', port: 8080 }],
    ['node-1.internal:81', { host: 'node-1.internal', port: 81 }],
  ])('%s', (text, want) => expect(parseNodeAddress(text, 8080)).toEqual(want));

  it.each([
    ['10.0.0.1:0', 'port must be 1-65535'],
    ['10.0.0.1:65536', 'port must be 1-65535'],
    ['10.0.0.1:http', 'port must be 1-65535'],
    ['10.0.0.256:80', 'expected an IPv4 address or a host name'],
    ['fd00::1:80', 'expected host:port'],
    ['[10.0.0.1]:80', 'not an IPv6 address'],
    ['', 'expected an IPv4 address or a host name'],
    ['-bad-.example:80', 'expected an IPv4 address or a host name'],
    ['a b:80', 'expected an IPv4 address or a host name'],
  ])('%s is refused: %s', (text, why) => expect(() => parseNodeAddress(text, 8080)).toThrow(`bad node address '${text}': ${why}`));
});

describe('haproxyConfig', () => {
  const base: HaproxyConfigOptions = {
    nodes: [{ host: '10.0.0.1', port: 8080 }], agentPort: 9901, spareSlots: 4, defaultPort: 8080, bind: ':80',
    statsSocket: '/run/haproxy/admin.sock', stateFile: '/var/lib/haproxy/server-state',
    requestTimeout: 360, maxWait: 300, headerTimeout: 10, sseHeartbeat: 15,
  };
  const backend = (text: string, name: string) => text.split(`\nbackend ${name}\n`)[1]!.split('\n\n')[0]!;

  it('waits longer than drover does: request_timeout or max_wait, plus 10 s', () => {
    expect(haproxyConfig(base)).toContain('timeout server 370s');
    expect(haproxyConfig({ ...base, requestTimeout: 60, maxWait: 600 })).toContain('timeout server 610s');
  });

  it('streams: their own backend, their own maxconn, a timeout of four heartbeats (at least 60 s), no agent', () => {
    const sse = backend(haproxyConfig({ ...base, sseHeartbeat: 30 }), 'be_drover_sse');
    expect(sse).toContain('timeout server 120s');
    expect(sse).toContain('maxconn 4096');
    expect(sse).not.toContain('agent-check');
    expect(backend(haproxyConfig(base), 'be_drover_sse')).toContain('timeout server 60s');
  });

  it('the API backend: leastconn, readyz, agent-check, slowstart, the nodes and spare slots', () => {
    const api = backend(haproxyConfig(base), 'be_drover_api');
    for (const line of ['balance leastconn', 'option httpchk GET /readyz', 'agent-check agent-port 9901 agent-inter 2s', 'slowstart 30s', 'server node1 10.0.0.1:8080', 'server-template spare 1-4 unassigned.invalid:8080 init-addr last,192.0.2.1 disabled']) {
      expect(api).toContain(line);
    }
  });

  it('without an agent port: no agent-check, and a comment saying how to get one', () => {
    const text = haproxyConfig({ ...base, agentPort: 0 });
    expect(text).not.toContain('agent-port');
    expect(text).toContain('set [fleet] agent_port');
  });

  it('IPv6 nodes in brackets; no spare slots when asked for none', () => {
    const text = haproxyConfig({ ...base, nodes: [{ host: 'fd00::1', port: 8080 }], spareSlots: 0 });
    expect(text).toContain('server node1 [fd00::1]:8080');
    expect(text).not.toContain('server-template');
  });
});

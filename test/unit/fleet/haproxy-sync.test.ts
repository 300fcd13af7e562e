import { describe, expect, it } from 'vitest';
import { parseServersState, PLACEHOLDER_ADDR, reconcile, unplaced, type Slot } from '../../../src/fleet/haproxy-sync.ts';

const READY = 0;
const MAINT = 0x01;
const DRAIN = 0x08;
const slot = (name: string, addr = PLACEHOLDER_ADDR, port = 8080, admin = addr === PLACEHOLDER_ADDR ? MAINT : READY, backend = 'be_drover_api'): Slot =>
  ({ backend, name, addr, port, admin, agent: backend === 'be_drover_api' });
const both = (name: string, addr?: string, port?: number, admin?: number) => [slot(name, addr, port, admin), slot(name, addr, port, admin, 'be_drover_sse')];
const node = (id: string, address: string, port: number, draining = false) => ({ id, address, port, draining });
const fresh = () => ({ missingSince: new Map<string, number>() });

describe('reconcile: registry → HAProxy slots', () => {
  it('gives a new node the lowest free spare slot in both backends, checks on, ready', () => {
    const { commands } = reconcile([...both('spare2'), ...both('spare1'), ...both('spare10')], [node('a', '10.0.0.5', 8080)], fresh(), 0, 30_000);
    expect(commands).toEqual([
      'set server be_drover_api/spare1 addr 10.0.0.5 port 8080', 'enable health be_drover_api/spare1', 'enable agent be_drover_api/spare1', 'set server be_drover_api/spare1 state ready',
      'set server be_drover_sse/spare1 addr 10.0.0.5 port 8080', 'enable health be_drover_sse/spare1', 'set server be_drover_sse/spare1 state ready',
    ]);
  });

  it.each([
    ['a placed, ready node: nothing to do', both('spare1', '10.0.0.5', 8080, READY), [node('a', '10.0.0.5', 8080)], []],
    ['a placed node that drains: drain', both('spare1', '10.0.0.5', 8080, READY), [node('a', '10.0.0.5', 8080, true)],
      ['set server be_drover_api/spare1 state drain', 'set server be_drover_sse/spare1 state drain']],
    ['already draining: nothing more', both('spare1', '10.0.0.5', 8080, DRAIN), [node('a', '10.0.0.5', 8080, true)], []],
    ['drained and back (a reload of the node ended): ready', both('spare1', '10.0.0.5', 8080, DRAIN), [node('a', '10.0.0.5', 8080)],
      ['set server be_drover_api/spare1 state ready', 'set server be_drover_sse/spare1 state ready']],
    ['a draining node never gets a new slot', both('spare1'), [node('a', '10.0.0.5', 8080, true)], []],
    ['same host, other port: another node', both('spare1', '10.0.0.5', 8080, READY).concat(both('spare2')), [node('a', '10.0.0.5', 8080), node('b', '10.0.0.5', 8081)],
      ['set server be_drover_api/spare2 addr 10.0.0.5 port 8081', 'enable health be_drover_api/spare2', 'enable agent be_drover_api/spare2', 'set server be_drover_api/spare2 state ready',
        'set server be_drover_sse/spare2 addr 10.0.0.5 port 8081', 'enable health be_drover_sse/spare2', 'set server be_drover_sse/spare2 state ready']],
    ['a static server (fleet.nodes) whose node is not registered: left to HAProxy', both('node1', '10.0.0.9', 8080, READY), [], []],
    ['every spare taken: the new node waits', both('spare1', '10.0.0.5', 8080, READY), [node('a', '10.0.0.5', 8080), node('b', '10.0.0.6', 8080)], []],
  ] as const)('%s', (_what, slots, nodes, expected) => {
    expect(reconcile([...slots], [...nodes], fresh(), 0, 30_000).commands).toEqual(expected);
  });

  it('a node that left: drain at once, maint and freed after the grace; a node back in time keeps its slot', () => {
    const slots = both('spare1', '10.0.0.5', 8080, READY);
    const first = reconcile(slots, [], fresh(), 1000, 30_000);
    expect(first.commands).toEqual(['set server be_drover_api/spare1 state drain', 'set server be_drover_sse/spare1 state drain']);
    const drained = both('spare1', '10.0.0.5', 8080, DRAIN);
    const during = reconcile(drained, [], first.state, 20_000, 30_000);
    expect(during.commands).toEqual([]);
    expect(reconcile(drained, [node('a', '10.0.0.5', 8080)], during.state, 25_000, 30_000).commands)
      .toEqual(['set server be_drover_api/spare1 state ready', 'set server be_drover_sse/spare1 state ready']);
    expect(reconcile(drained, [], during.state, 31_000, 30_000).commands).toEqual([
      'disable agent be_drover_api/spare1', 'set server be_drover_api/spare1 state maint', 'disable health be_drover_api/spare1', `set server be_drover_api/spare1 addr ${PLACEHOLDER_ADDR} port 8080`,
      'set server be_drover_sse/spare1 state maint', 'disable health be_drover_sse/spare1', `set server be_drover_sse/spare1 addr ${PLACEHOLDER_ADDR} port 8080`,
    ]);
  });

  it('counts the nodes that found no free slot', () => {
    expect(unplaced(both('spare1', '10.0.0.5', 8080, READY), [node('a', '10.0.0.5', 8080), node('b', '10.0.0.6', 8080), node('c', '10.0.0.7', 8080, true)])).toBe(1);
    expect(unplaced([...both('spare1'), ...both('spare2')], [node('b', '10.0.0.6', 8080)])).toBe(0);
  });
});

describe('parseServersState', () => {
  it('reads the fields by the header, whatever their order', () => {
    const text = [
      '1',
      '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
      '3 be_drover_api 1 spare1 127.0.0.1 2 0 100 100 5 6 3 4 6 0 0 0 unassigned.invalid 41234 - 0 0 - - 9901',
      '3 be_drover_api 2 spare2 192.0.2.1 0 1 100 100 5 1 0 0 0 0 0 0 unassigned.invalid 8080 - 0 0 - - 0',
      '',
    ].join('\n');
    expect(parseServersState('be_drover_api', text)).toEqual([
      { backend: 'be_drover_api', name: 'spare1', addr: '127.0.0.1', port: 41234, admin: 0, agent: true },
      { backend: 'be_drover_api', name: 'spare2', addr: '192.0.2.1', port: 8080, admin: 1, agent: false },
    ]);
    expect(() => parseServersState('be_x', 'No such backend.\n')).toThrow(/unexpected answer/);
  });
});

// `drover haproxy-sync` between a real HAProxy 2.6 and real drover nodes sharing a Redis:
// nodes that join get a spare slot and receive traffic, a node that stops is drained and its
// slot freed after the grace, and the slots' state is saved for HAProxy's reloads.
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, type DroverProcess } from '../../helpers/drover.ts';
import { freePort, haproxyForDrover, serversState, stopAllHaproxy, type HaproxyProcess } from '../../helpers/haproxy.ts';
import { request, sleep, until } from '../../helpers/http.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { PLACEHOLDER_ADDR } from '../../../src/fleet/haproxy-sync.ts';

const PREFIX = `hs${randomBytes(4).toString('hex')}`;
let redis: RedisServer;
let h: HaproxyProcess;
let haproxyEnv: Record<string, string>;
let agentPort: number;
let front: string;

const fleetEnv = () => ({
  DROVER_STORE__BACKEND: 'redis',
  DROVER_STORE__URL: redis.url,
  DROVER_STORE__PREFIX: PREFIX,
  DROVER_FLEET__AGENT_PORT: String(agentPort),
  DROVER_FLEET__HEARTBEAT_INTERVAL: '0.3',
});

/** A node on its own loopback address, so every node can use the same agent port, as on separate VMs. */
function node(host: string): Promise<DroverProcess> {
  return startDrover({
    args: ['start', '--host', host, '--port', '0', '--children', '1'],
    env: { ...fleetEnv(), DROVER_FLEET__AGENT_HOST: host, DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2' },
  });
}

// admin: SRV_ADMF_FMAINT (1) | SRV_ADMF_FDRAIN (8); the `disabled` of the template leaves CMAINT (4)
// set for good, which no longer holds a slot once its state was set ready.
const slots = async () => (await serversState(h, 'be_drover_api')).filter((r) => r.srv_name).map((r) => ({ name: r.srv_name!, addr: r.srv_addr!, port: Number(r.srv_port), admin: Number(r.srv_admin_state) & 0x09 }));

beforeAll(async () => {
  redis = await startRedis();
  agentPort = await freePort();
  ({ h, front, env: haproxyEnv } = await haproxyForDrover({ slots: 3, agentPort }));
}, 300_000);

afterAll(async () => {
  await stopAll();
  await stopAllHaproxy();
  await redis?.stop();
});

describe('drover haproxy-sync', () => {
  it('gives joining nodes slots that take traffic; drains and frees the slot of a node that stops', async () => {
    const [a, b] = await Promise.all([node('127.0.0.2'), node('127.0.0.3')]);
    const sync = await startDrover({
      args: ['haproxy-sync'],
      waitStarted: false,
      env: {
        ...fleetEnv(),
        ...haproxyEnv,
        DROVER_FLEET__HAPROXY_DRAIN_GRACE: '1',
      },
    });
    const placed = await until(slots, (s) => s.filter((x) => x.addr !== PLACEHOLDER_ADDR && x.admin === 0).length === 2, 20_000, 'both nodes placed');
    expect(placed.filter((x) => x.addr !== PLACEHOLDER_ADDR).map((x) => `${x.addr}:${x.port}`).sort())
      .toEqual([`127.0.0.2:${a.port}`, `127.0.0.3:${b.port}`]);
    expect(placed.map((x) => x.name).filter((_, i) => placed[i]!.addr !== PLACEHOLDER_ADDR).sort()).toEqual(['spare1', 'spare2']);

    // Both nodes answer through HAProxy once their health checks pass.
    const childPids = new Set([...a.childPids(), ...b.childPids()]);
    const served = new Set<number>();
    await until(async () => {
      const r = await request(`${front}/v1/ping`).catch(() => undefined);
      if (r?.status === 200) served.add(r.json<{ pid: number }>().pid);
      return served.size;
    }, (n) => n === 2, 60_000, 'requests through HAProxy reaching both nodes');
    for (const pid of served) expect(childPids.has(pid)).toBe(true);
    const stateFile = haproxyEnv.DROVER_FLEET__HAPROXY_STATE_FILE!;
    expect(existsSync(stateFile)).toBe(true);
    expect(readFileSync(stateFile, 'utf8')).toContain(`127.0.0.2 `);

    // b stops: its slot drains at once, then (grace 1 s) goes to maint at the placeholder address.
    await b.stop();
    const freed = await until(slots, (s) => !s.some((x) => x.addr === '127.0.0.3'), 20_000, "b's slot freed");
    const slotB = freed.find((x) => x.name === placed.find((p) => p.addr === '127.0.0.3')!.name)!;
    expect(slotB).toMatchObject({ addr: PLACEHOLDER_ADDR, admin: 1 });
    expect(sync.logs.some((l) => l.msg === 'haproxy slots updated' && (l.commands as string[]).some((c) => c.endsWith(`/${slotB.name} state drain`)))).toBe(true);
    // a keeps serving through HAProxy.
    for (let i = 0; i < 5; i++) expect((await request(`${front}/v1/ping`)).status).toBe(200);

    // A restarted sync reconciles from scratch: a node that joins meanwhile gets the free slot.
    await sync.stop();
    const c = await node('127.0.0.4');
    await startDrover({
      args: ['haproxy-sync'],
      waitStarted: false,
      env: { ...fleetEnv(), ...haproxyEnv },
    });
    await until(slots, (s) => s.some((x) => x.addr === '127.0.0.4' && x.port === c.port && x.admin === 0), 20_000, 'the new node placed by the restarted sync');
    expect((await slots()).filter((x) => x.addr === '127.0.0.2')).toHaveLength(1);
  });
});

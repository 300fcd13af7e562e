// drover behind a real HAProxy 2.6 with the configuration `drover haproxy-config` prints:
// tasks and their event streams go through it, and the agent-check makes HAProxy see the
// node drain (`drover drain`) and go down when no child is ready (`drover scale 0`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../helpers/cli.ts';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { checkConfig, ensureHaproxy, freePort, haproxyForDrover, serversState, showStat, stopAllHaproxy, type HaproxyProcess } from '../../helpers/haproxy.ts';
import { request, sleep, until } from '../../helpers/http.ts';
import { openSse, json } from '../../helpers/sse.ts';
import { submit } from '../../helpers/tasks.ts';
import { AGENT } from '../api/support.ts';

describe('drover haproxy-config', () => {
  beforeAll(() => ensureHaproxy(), 300_000);

  it('prints a configuration haproxy -c accepts, with the default paths and spare slots', async () => {
    const r = await cli(['haproxy-config', '10.0.0.11:8080', '10.0.0.12', '[fd00::13]:8081'], { DROVER_FLEET__AGENT_PORT: '9901' });
    expect(r.code, r.stderr).toBe(0);
    const checked = checkConfig(r.stdout);
    expect(checked.ok, checked.output).toBe(true);
    expect(r.stdout).toContain('balance leastconn');
    expect(r.stdout).toContain('agent-check agent-port 9901');
    expect(r.stdout).toContain('server node2 10.0.0.12:8080');
    expect(r.stdout).toMatch(/server-template spare 1-16 /);
  });

  it('a bad address: one line on stderr, nothing on stdout, exit 2', async () => {
    const r = await cli(['haproxy-config', '10.0.0.11:8080', '10.0.0.300:80']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([`drover: bad node address '10.0.0.300:80': expected an IPv4 address or a host name`]);
  });
});

describe('drover behind HAProxy', () => {
  let d: DroverProcess;
  let h: HaproxyProcess;
  let front: string;
  /** Points the CLI at this drover's control socket. */
  const cliEnv = { DROVER_SUPERVISOR__RUNTIME_DIR: tempDir('drover-run-') };

  beforeAll(async () => {
    ensureHaproxy();
    const agentPort = await freePort();
    d = await startDrover({
      args: ['start', '--port', '0', '--children', '1'],
      env: {
        ...cliEnv,
        DROVER_FLEET__AGENT_PORT: String(agentPort),
        DROVER_EXECUTOR__AGENT: AGENT,
        DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
        DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2',
        DROVER_LIMITS__SSE_HEARTBEAT: '0.5',
      },
    });
    ({ h, front } = await haproxyForDrover({ servers: [`127.0.0.1:${d.port}`], slots: 2, agentPort }));
  }, 300_000);

  afterAll(async () => {
    await stopAllHaproxy();
    await stopAll();
  });

  const node = async (backend: string) => (await showStat(h)).find((r) => r.pxname === backend && r.svname === 'node1')!;
  const adminState = async () => Number((await serversState(h, 'be_drover_api')).find((r) => r.srv_name === 'node1')!.srv_admin_state);
  // SRV_ADMF_FDRAIN, set by `set server … state drain` and by an agent's `drain`.
  const DRAIN = 0x08;

  it('routes a task submission and its event stream through HAProxy', async () => {
    await until(() => node('be_drover_api'), (r) => r.status === 'UP', 15_000, 'node1 up');
    const id = await submit(front, { steps: 3, delay_ms: 300, result: 'through haproxy' });
    const stream = await openSse(`${front}/v1/tasks/${id}/events`);
    expect(stream.status).toBe(200);
    const done = await stream.waitFor((e) => e.event === 'done', 20_000);
    expect(json<{ status: string }>(done).status).toBe('succeeded');
    expect(stream.events.filter((e) => e.event === 'progress').map((e) => json(e))).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    stream.close();
    const got = await request(`${front}/v1/tasks/${id}`);
    expect(got.json()).toMatchObject({ status: 'succeeded', result: 'through haproxy' });
    // The stream went through its own backend, the API calls through theirs.
    expect(Number((await node('be_drover_sse')).stot)).toBeGreaterThanOrEqual(1);
    expect(Number((await node('be_drover_api')).stot)).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('the agent-check: drain on `drover drain`, down when no child is ready, up again after', async () => {
    expect((await cli(['drain'], cliEnv)).code).toBe(0);
    // The agent, not the failing /readyz, put it there: HAProxy says who did.
    await until(() => node('be_drover_api'), (r) => r.status === 'DRAIN (agent)', 10_000, 'node1 drained by the agent');
    expect((await adminState()) & DRAIN).toBe(DRAIN);

    // scale 0 ends the drain with no child: the agent says down.
    expect((await cli(['scale', '0'], cliEnv)).code).toBe(0);
    await until(() => node('be_drover_api'), (r) => r.status === 'DOWN (agent)', 10_000, 'node1 down by the agent');

    expect((await cli(['scale', '1'], cliEnv)).code).toBe(0);
    // `up ready` also lifts the drain the agent set before.
    await until(() => node('be_drover_api'), (r) => r.status === 'UP', 20_000, 'node1 back up');
    expect((await adminState()) & DRAIN).toBe(0);
    const r = await request(`${front}/v1/ping`);
    expect(r.status).toBe(200);
  }, 60_000);
});


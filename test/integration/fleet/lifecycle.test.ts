// A fleet's life end to end: three drover nodes on one Redis behind one HAProxy (configured by
// `drover haproxy-config`, its slots kept by `drover haproxy-sync`). A rolling reload of every
// node under keep-alive load fails no request; `drover drain` takes a node out of HAProxy and
// the registry without losing its work; a node killed with SIGKILL goes down in HAProxy and
// its tasks finish on the others, each exactly once.
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../helpers/cli.ts';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { freePort, haproxyForDrover, serversState, showStat, stopAllHaproxy, type HaproxyProcess } from '../../helpers/haproxy.ts';
import { loadLoop, request, sleep, until } from '../../helpers/http.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { submit, waitAll } from '../../helpers/tasks.ts';
import { PLACEHOLDER_ADDR } from '../../../src/fleet/haproxy-sync.ts';
import type { FleetListing } from '../../../src/fleet/registry.ts';

const AGENT = join(import.meta.dirname, 'fixtures/counting-agent.mjs');
const PREFIX = `lc${randomBytes(4).toString('hex')}`;
const LEASE_S = 1.5;
const SHUTDOWN_S = 1.5;
let redis: RedisServer;
let h: HaproxyProcess;
let agentPort: number;
let front: string;
let completions: string;

interface Node {
  host: string;
  d: DroverProcess;
  /** Points the CLI at this node's control socket. */
  env: Record<string, string>;
  admin: number;
}
const nodes: Node[] = [];

const fleetEnv = () => ({
  DROVER_STORE__BACKEND: 'redis',
  DROVER_STORE__URL: redis.url,
  DROVER_STORE__PREFIX: PREFIX,
  DROVER_FLEET__AGENT_PORT: String(agentPort),
  DROVER_FLEET__HEARTBEAT_INTERVAL: '0.3',
});

/** A node on its own loopback address (all share the agent port, as on separate VMs). */
async function startNode(host: string): Promise<Node> {
  const env = { DROVER_SUPERVISOR__RUNTIME_DIR: tempDir('drover-run-') };
  const d = await startDrover({
    args: ['start', '--host', host, '--port', '0', '--children', '1'],
    env: {
      ...fleetEnv(), ...env,
      DROVER_FLEET__AGENT_HOST: host,
      DROVER_EXECUTOR__AGENT: AGENT,
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_EXECUTOR__LEASE: String(LEASE_S),
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: String(SHUTDOWN_S),
      // The tenant's bucket is fleet-wide (in Redis); this file's polling of task status is not what it tests.
      DROVER_LIMITS__RATE_PER_SECOND: '100000',
      DROVER_LIMITS__BURST: '100000',
    },
  });
  const admin = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
  return { host, d, env, admin };
}

/** Every child pid a node has had (reloads replace them). */
const pidsOf = (n: Node) => new Set(n.d.logs.filter((l) => l.role === 'supervisor' && l.msg === 'child ready').map((l) => l.childPid as number));
const runningOn = async (n: Node) => (await request(`http://127.0.0.1:${n.admin}/status`)).json<{ totals: { runningTasks: number } }>().totals.runningTasks;
const fleetOf = async (n: Node) => {
  const r = await cli(['status', '--fleet', '--json'], n.env);
  return JSON.parse(r.stdout) as FleetListing;
};

/** The API backend's slot of a node: its name, HAProxy's status of it, and its admin bits. */
async function slotOf(n: Node) {
  const state = (await serversState(h, 'be_drover_api')).find((r) => r.srv_addr === n.host && Number(r.srv_port) === n.d.port);
  const stat = state && (await showStat(h)).find((r) => r.pxname === 'be_drover_api' && r.svname === state.srv_name);
  return { name: state?.srv_name, status: stat?.status, admin: Number(state?.srv_admin_state ?? 0) & 0x09 };
}
const slotNamed = async (name: string) => {
  const state = (await serversState(h, 'be_drover_api')).find((r) => r.srv_name === name)!;
  return { addr: state.srv_addr, admin: Number(state.srv_admin_state) & 0x09 };
};

/** How many runs of each task reached their end, from the agent's log. */
function completedRuns(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(completions, 'utf8').split('\n').filter(Boolean)) {
    const id = line.split(' ')[0]!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/**
 * Submits tasks through HAProxy, one at a time, until `n` runs one (at most `max`): the task
 * it runs has most of `holdMs` still to go.
 */
async function busy(n: Node, holdMs: number, max: number): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < max) {
    ids.push(await submit(front, { hold_ms: holdMs, log: completions }));
    if ((await until(() => runningOn(n), (x) => x > 0, 500, 'running', 100).catch(() => 0)) > 0) return ids;
  }
  throw new Error(`no task ran on ${n.host} after ${ids.length} submits`);
}

beforeAll(async () => {
  redis = await startRedis();
  agentPort = await freePort();
  completions = join(tempDir('drover-runs-'), 'completed');
  writeFileSync(completions, '');
  const fronted = await haproxyForDrover({ slots: 3, agentPort });
  ({ h, front } = fronted);
  nodes.push(...(await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map(startNode))));
  await startDrover({
    args: ['haproxy-sync'],
    waitStarted: false,
    env: {
      ...fleetEnv(),
      ...fronted.env,
      DROVER_FLEET__HAPROXY_DRAIN_GRACE: '2',
    },
  });
  for (const n of nodes) await until(() => slotOf(n), (s) => s.status === 'UP', 30_000, `${n.host} up in HAProxy`, 100);
}, 120_000);

afterAll(async () => {
  await stopAll();
  await stopAllHaproxy();
  await redis?.stop();
});

describe('a fleet behind HAProxy', () => {
  it('a rolling reload of every node under keep-alive load fails no request', async () => {
    const pings = loadLoop(`${front}/v1/ping`, 4, { keepAlive: true, pauseMs: 20, maxRequests: 20_000 });
    // Task submits on a keep-alive connection of their own, as a client service would.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const submitted: string[] = [];
    const submitFailures: string[] = [];
    let submitting = true;
    const submits = (async () => {
      while (submitting && submitted.length < 400) {
        const r = await request(`${front}/v1/tasks`, { method: 'POST', agent, body: JSON.stringify({ input: { hold_ms: 100, log: completions } }), headers: { 'content-type': 'application/json' } })
          .catch((err: NodeJS.ErrnoException) => ({ status: 0, body: err.code ?? err.message, json: () => ({}) }));
        if (r.status === 202 || r.status === 200) submitted.push((r.json() as { id: string }).id);
        else submitFailures.push(`${r.status}: ${r.body}`);
        await sleep(50);
      }
    })();
    await sleep(500);
    for (const n of nodes) {
      const before = pidsOf(n);
      const r = await cli(['reload'], n.env);
      expect(r.code, r.stderr).toBe(0);
      // The node's children were replaced, and HAProxy still has it up.
      expect([...pidsOf(n)].some((p) => !before.has(p))).toBe(true);
      await until(() => slotOf(n), (s) => s.status === 'UP', 10_000, `${n.host} up after its reload`, 100);
    }
    await sleep(500);
    submitting = false;
    await submits;
    await pings.stop();
    agent.destroy();
    expect(pings.failures).toEqual([]);
    expect(submitFailures).toEqual([]);
    expect(pings.sent).toBeGreaterThan(50);
    // Every node answered some of the load.
    const all = nodes.map(pidsOf);
    for (const pids of all) expect([...pings.byPid.keys()].some((p) => pids.has(p))).toBe(true);
    const done = await waitAll(front, submitted, 30_000);
    expect(done.filter((t) => t.status !== 'succeeded')).toEqual([]);
  }, 90_000);

  it('drover drain: HAProxy sends the node nothing new, its work finishes, it leaves the registry and its slot goes to maint', async () => {
    const [a, b] = nodes as [Node, Node, Node];
    // Tasks that outlast the drain deadline: what is still running on `a` goes back to the queue.
    // 12 s, not 6: `a`'s running count comes with its children's heartbeats, and the CLI takes
    // seconds to start on a loaded machine. Two full runs missed the deadline's log line, as
    // they would if `a`'s task had ended before the deadline.
    const ids = await busy(a, 12_000, 30);
    const slot = (await slotOf(a)).name!;
    // A request in flight on `a` when the drain begins (a long poll on a task it runs).
    const inFlight = request(`http://${a.host}:${a.d.port}/v1/tasks/${ids[0]}?wait=1`);
    await sleep(100);
    const drained = cli(['drain'], a.env);
    await until(() => slotOf(a), (s) => s.status?.startsWith('DRAIN') === true || s.status === 'MAINT', 10_000, 'a drained in HAProxy', 100);
    expect((await inFlight).status).toBe(200);
    const aPids = pidsOf(a);
    for (let i = 0; i < 20; i++) {
      const r = await request(`${front}/v1/ping`);
      expect(r.status).toBe(200);
      expect(aPids.has(r.json<{ pid: number }>().pid)).toBe(false);
    }
    expect((await drained).code).toBe(0);
    expect(a.d.logs.some((l) => l.msg === 'drain deadline passed; returning running tasks to the queue')).toBe(true);
    // Gone from the registry, then (after haproxy-sync's grace) its slot in maint and freed.
    await until(() => fleetOf(b), (f) => !f.nodes.some((x) => x.address === a.host), 10_000, 'a gone from the registry', 100);
    await until(() => slotNamed(slot), (s) => s.admin === 1 && s.addr === PLACEHOLDER_ADDR, 15_000, "a's slot in maint", 100);
    const done = await waitAll(front, ids, 30_000);
    expect(done.filter((t) => t.status !== 'succeeded')).toEqual([]);
    const runs = completedRuns();
    expect(ids.filter((id) => runs.get(id) !== 1)).toEqual([]);
  }, 90_000);

  it('kill -9: HAProxy marks the node down, its tasks finish on the others once each', async () => {
    const [, b, c] = nodes as [Node, Node, Node];
    const ids = await busy(b, 2000, 30);
    expect(await runningOn(b)).toBeGreaterThan(0);
    b.d.killGroup();
    const killedAt = Date.now();
    await until(() => slotOf(b), (s) => s.status === undefined || /^(DOWN|MAINT)/.test(s.status), 15_000, 'b down in HAProxy', 100);
    const downAfterMs = Date.now() - killedAt;
    // fall 3 checks, the later ones at fastinter 500 ms: a few seconds, not the 30 s of a default timeout.
    expect(downAfterMs).toBeLessThan(10_000);
    // Requests meanwhile reach the live node: HAProxy retries a refused connection elsewhere.
    for (let i = 0; i < 10; i++) expect((await request(`${front}/v1/ping`)).status).toBe(200);
    const done = await waitAll(front, ids, 30_000);
    expect(done.filter((t) => t.status !== 'succeeded')).toEqual([]);
    // What b was running came back after its lease ran out and finished on c.
    const cPids = pidsOf(c);
    expect(done.some((t) => t.attempt >= 2 && cPids.has((t.result as { pid: number }).pid))).toBe(true);
    const runs = completedRuns();
    expect(ids.filter((id) => runs.get(id) !== 1)).toEqual([]);
  }, 60_000);
});

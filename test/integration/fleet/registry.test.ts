// The fleet registry on a real redis-server: nodes that share a store see each other in
// `drover status --fleet`; a node that stops leaves at once; one that dies expires after
// three missed heartbeats. With SQLite a node is a fleet of one.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { cli } from '../../helpers/cli.ts';
import { request, sleep, until as poll } from '../../helpers/http.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { openRegistry, TTL_BEATS, type FleetListing } from '../../../src/fleet/registry.ts';

const PREFIX = `fl${randomBytes(4).toString('hex')}`;
const BEAT_S = 0.25;
let server: RedisServer;

interface Node {
  d: DroverProcess;
  run: string;
  id: string;
}

async function node(id: string, children: number): Promise<Node> {
  const run = tempDir('drover-run-');
  const d = await startDrover({
    args: ['start', '--port', '0', '--children', String(children)],
    env: {
      DROVER_STORE__BACKEND: 'redis',
      DROVER_STORE__URL: server.url,
      DROVER_STORE__PREFIX: PREFIX,
      DROVER_SUPERVISOR__RUNTIME_DIR: run,
      DROVER_FLEET__NODE_ID: id,
      DROVER_FLEET__HEARTBEAT_INTERVAL: String(BEAT_S),
    },
  });
  return { d, run, id };
}

async function fleetOf(n: Node): Promise<FleetListing> {
  const r = await cli(['status', '--fleet', '--json'], { DROVER_SUPERVISOR__RUNTIME_DIR: n.run });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as FleetListing;
}

/** Polls `n`'s view of the fleet until `pred` holds (at most 10 s). */
async function until(n: Node, pred: (f: FleetListing) => boolean): Promise<FleetListing> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const f = await fleetOf(n);
    if (pred(f) || Date.now() > deadline) return f;
    await sleep(100);
  }
}

/** The fleet gauges of `n`'s admin /metrics and what a fresh listing says they should be, polled
 * until the two agree (at most 10 s): a child reports its task slots a beat after it is ready,
 * so the totals can still grow after every node shows children and slots. */
async function untilMetrics(n: Node, wantOf: () => Promise<Record<string, number>>): Promise<{ got: Record<string, number>; want: Record<string, number> }> {
  const admin = (await n.d.waitLog((l) => l.msg === 'admin listening')).port as number;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const want = await wantOf();
    const text = (await request(`http://127.0.0.1:${admin}/metrics`)).body;
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, Number(new RegExp(`^${k} (\\S+)$`, 'm').exec(text)?.[1])]));
    if (Object.keys(want).every((k) => got[k] === want[k]) || Date.now() > deadline) return { got, want };
    await sleep(100);
  }
}

beforeAll(async () => {
  server = await startRedis();
}, 60_000);

afterAll(async () => {
  await stopAll();
  await server?.stop();
});

describe('fleet registry (store.backend = "redis")', () => {
  it('lists every node with its children; a stopped node leaves at once, a killed one expires', async () => {
    const [a, b] = await Promise.all([node('node-a', 2), node('node-b', 1)]);
    const both = await until(a, (f) => f.nodes.length === 2 && f.nodes.every((n) => n.children > 0 && n.slots > 0));
    expect(both.shared).toBe(true);
    expect(both.nodes.map((n) => [n.id, n.children, n.port])).toEqual([['node-a', 2, a.d.port], ['node-b', 1, b.d.port]]);
    expect(both.totals).toMatchObject({ nodes: 2, children: 3, draining: 0 });
    expect(both.totals.slots).toBe(both.nodes[0]!.slots + both.nodes[1]!.slots);
    // Both nodes read the same registry.
    expect((await fleetOf(b)).nodes.map((n) => n.id)).toEqual(['node-a', 'node-b']);

    // Each node's /metrics sums the fleet from its last listing.
    const wantOf = async () => {
      const { totals } = await fleetOf(a);
      return { drover_fleet_nodes: totals.nodes, drover_fleet_children: totals.children, drover_fleet_task_slots: totals.slots, drover_fleet_running_tasks: totals.running };
    };
    for (const n of [a, b]) {
      const { got, want } = await untilMetrics(n, wantOf);
      expect(got).toEqual(want);
      expect(want).toMatchObject({ drover_fleet_nodes: 2, drover_fleet_children: 3, drover_fleet_running_tasks: 0 });
      expect(want.drover_fleet_task_slots).toBeGreaterThanOrEqual(both.totals.slots);
    }

    const human = await cli(['status', '--fleet'], { DROVER_SUPERVISOR__RUNTIME_DIR: a.run });
    expect(human.stdout).toMatch(/^node-a\s+127\.0\.0\.1:\d+\s+\S+\s+2\/\d+/m);
    expect(human.stdout).toMatch(/^2 nodes\s+3\//m);

    // A graceful stop: gone from the registry without waiting for its entry to expire.
    const stopping = b.d.stop();
    const afterStop = await until(a, (f) => f.nodes.length === 1);
    expect(afterStop.nodes.map((n) => n.id)).toEqual(['node-a']);
    await stopping;

    // A node killed outright (supervisor and children) expires after three missed beats.
    const c = await node('node-c', 1);
    await until(a, (f) => f.nodes.some((n) => n.id === 'node-c'));
    // Watched from this process's own registry client: a `drover status` per poll would add a
    // process start to every look, and the bound would measure the machine's load.
    const registry = await openRegistry({ ...defaultConfig().store, backend: 'redis', url: server.url, prefix: PREFIX });
    try {
      c.d.killGroup();
      const killedAt = Date.now();
      const gone = await poll(() => registry.nodes(), (nodes) => !nodes.some((n) => n.id === 'node-c'), 10_000, 'node-c expired', 20);
      expect(Date.now() - killedAt).toBeLessThan(BEAT_S * TTL_BEATS * 1000 + 1000);
      expect(gone.map((n) => n.id)).toEqual(['node-a']);
    } finally {
      await registry.close();
    }
    expect((await fleetOf(a)).nodes.map((n) => n.id)).toEqual(['node-a']);
  });
});

describe('fleet registry (SQLite)', () => {
  it('is a fleet of one', async () => {
    const run = tempDir('drover-run-');
    await startDrover({ args: ['start', '--port', '0', '--children', '1'], env: { DROVER_SUPERVISOR__RUNTIME_DIR: run, DROVER_FLEET__HEARTBEAT_INTERVAL: '0.2' } });
    const f = await until({ run } as Node, (x) => x.nodes.length === 1 && x.nodes[0]!.children === 1);
    expect(f.shared).toBe(false);
    expect(f.nodes).toHaveLength(1);
    const human = await cli(['status', '--fleet'], { DROVER_SUPERVISOR__RUNTIME_DIR: run });
    expect(human.stdout).toMatch(/fleet of one/);
  });
});

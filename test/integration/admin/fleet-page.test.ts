// The status page's fleet panel in a real browser (Debian's chromium via playwright-core):
// two drover nodes on one redis-server; each node's page shows a row per node, and a node
// that drains says so there. A node alone shows no fleet panel.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { cli } from '../../helpers/cli.ts';
import { request, sleep } from '../../helpers/http.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { submit } from '../../helpers/tasks.ts';
import { AGENT } from '../api/support.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PREFIX = `fp${randomBytes(4).toString('hex')}`;

let redis: RedisServer;
let ctx: BrowserContext | undefined;

interface Node {
  d: DroverProcess;
  env: Record<string, string>;
  admin: string;
}

async function node(id: string, children: number, shared = true): Promise<Node> {
  const env = { DROVER_SUPERVISOR__RUNTIME_DIR: tempDir('drover-run-') };
  const d = await startDrover({
    args: ['start', '--port', '0', '--children', String(children)],
    env: {
      ...env,
      ...(shared && { DROVER_STORE__BACKEND: 'redis', DROVER_STORE__URL: redis.url, DROVER_STORE__PREFIX: PREFIX }),
      DROVER_FLEET__NODE_ID: id,
      DROVER_FLEET__HEARTBEAT_INTERVAL: '0.3',
      DROVER_EXECUTOR__AGENT: AGENT,
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
    },
  });
  const port = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
  return { d, env, admin: `http://127.0.0.1:${port}` };
}

const cell = (page: Page, id: string, k: string) => page.locator(`#fleet tr[data-node="${id}"] [data-k="${k}"]`);

beforeAll(async () => {
  execFileSync('sh', [join(ROOT, 'scripts/ensure-test-deps.sh')], { stdio: 'inherit', timeout: 300_000 });
  redis = await startRedis();
  ctx = await chromium.launchPersistentContext(tempDir('drover-chromium-'), {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 1000 },
  });
}, 310_000);

afterAll(async () => {
  await ctx?.close();
  await stopAll();
  await redis?.stop();
});

describe('status page: fleet panel', () => {
  it('shows a row per node of a shared registry; a draining node says so', async () => {
    const [a, b] = await Promise.all([node('node-a', 2), node('node-b', 1)]);
    const page = await ctx!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${a.admin}/`);
    await expect.poll(() => page.locator('#fleet tbody tr').count(), { timeout: 15_000 }).toBe(2);
    expect(await page.locator('#fleet').isVisible()).toBe(true);
    await expect.poll(async () => [await cell(page, 'node-a', 'children').textContent(), await cell(page, 'node-b', 'children').textContent()], { timeout: 10_000 })
      .toEqual([expect.stringMatching(/^2 \/ \d+$/), expect.stringMatching(/^1 \/ \d+$/)]);
    expect(await cell(page, 'node-b', 'address').textContent()).toBe(`127.0.0.1:${b.d.port}`);
    expect(await cell(page, 'node-a', 'state').textContent()).toBe('serving');
    expect(await cell(page, 'node-a', 'age').textContent()).toMatch(/ ago$/);
    expect(await page.locator('#fleet-sum').textContent()).toMatch(/^2 nodes · 3 children/);

    // b drains while it runs a task: listed as draining until the task ends, then it leaves the
    // registry (a drained node is out of the fleet) and a's page, now alone, hides the panel.
    // The task holds long enough for the drain to reach the page through b's beat, a's read of
    // the registry and a's next view (a second apart) after the CLI started, on a loaded machine:
    // with 3 s, one full run of the suite saw b go from serving to gone.
    const running = async () => (await request(`${b.admin}/status`)).json<{ totals: { runningTasks: number } }>().totals.runningTasks;
    for (let i = 0; i < 30 && (await running()) === 0; i++) {
      await submit(b.d.url(''), { hold_ms: 8000 });
      await sleep(300);
    }
    expect(await running()).toBeGreaterThan(0);
    const drained = cli(['drain'], b.env);
    const states = new Set<string>();
    await expect.poll(async () => {
      const s = await cell(page, 'node-b', 'state').textContent({ timeout: 200 }).catch(() => 'gone');
      states.add(s ?? '');
      return s;
    }, { timeout: 20_000, interval: 50 }).toBe('gone');
    expect((await drained).code).toBe(0);
    expect(states.has('draining')).toBe(true);
    await expect.poll(() => page.locator('#fleet').isVisible(), { timeout: 10_000 }).toBe(false);
    expect(problems).toEqual([]);
  });

  it('a node alone (SQLite) shows no fleet panel', async () => {
    const solo = await node('solo', 1, false);
    const page = await ctx!.newPage();
    await page.goto(`${solo.admin}/`);
    await expect.poll(() => page.locator('#children tbody tr').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('#fleet').isVisible()).toBe(false);
  });
});

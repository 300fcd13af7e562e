// The status page in a real browser: Debian's chromium driven by playwright-core (which
// downloads nothing), against a running drover. scripts/ensure-test-deps.sh installs chromium
// when it is missing.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startDrover, stopAll, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { cli } from '../../helpers/cli.ts';
import { request, type Reply } from '../../helpers/http.ts';
import { AGENT } from '../api/support.ts';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A fresh profile each time: nothing from an earlier run (or the user's) leaks in. */
function browser(opts: { httpCredentials?: { username: string; password: string } } = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(tempDir('drover-chromium-'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 1000 },
    ...opts,
  });
}

async function adminBase(d: DroverProcess): Promise<string> {
  const line = await d.waitLog((l) => l.msg === 'admin listening');
  return `http://127.0.0.1:${String(line.port)}`;
}

const cell = (page: Page, slot: number, k: string) => page.locator(`#children tr[data-slot="${slot}"] [data-k="${k}"]`);
const tile = (page: Page, panel: string, k: string) => page.locator(`#${panel} [data-k="${k}"]`);

const TOKEN = 'page-test-token-123';
let d: DroverProcess;
let base: string;
let ctx: BrowserContext | undefined;
const runtimeDir = tempDir('drover-run-');

// One drover and one browser for the file (each costs seconds on a loaded machine). The admin
// endpoint is bound to a non-loopback address, so it needs the token: the browser has it as the
// HTTP Basic password, as a person would type it into the browser's prompt.
beforeAll(async () => {
  execFileSync('sh', [join(ROOT, 'scripts/ensure-test-deps.sh')], { stdio: 'inherit', timeout: 300_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
  // The browser starts while drover does: each takes seconds on a loaded machine.
  [d, ctx] = await Promise.all([
    startDrover({
      args: ['start', '--port', '0', '--children', '2'],
      env: {
        DROVER_ADMIN__HOST: '0.0.0.0', DROVER_ADMIN__ALLOW_REMOTE: 'true', DROVER_ADMIN__TOKEN: TOKEN,
        DROVER_EXECUTOR__AGENT: AGENT, DROVER_EXECUTOR__THREADS: '1', DROVER_EXECUTOR__TASKS_PER_THREAD: '2', DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
        DROVER_SUPERVISOR__RESTART_DELAY: '0.2', DROVER_SUPERVISOR__RUNTIME_DIR: runtimeDir,
      },
    }),
    browser({ httpCredentials: { username: 'admin', password: TOKEN } }),
  ]);
  base = await adminBase(d);
}, 310_000);
afterAll(async () => {
  await ctx?.close();
  await stopAll();
});

describe('status page', () => {
  it('shows one row per child live, a killed child coming back with its restart counted, and tasks moving the queue and traffic panels', async () => {
    const page = ctx!.pages()[0] ?? (await ctx!.newPage());
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${base}/`);

    const rows = page.locator('#children tbody tr');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => cell(page, 0, 'state').textContent(), { timeout: 10_000 }).toBe('ready');
    expect(await cell(page, 0, 'restarts').textContent()).toBe('0');

    // kill -9 the child in slot 0: its row comes back with a new pid and the crash counted.
    const pid = Number(await cell(page, 0, 'pid').textContent());
    expect(d.childPids()).toContain(pid);
    process.kill(pid, 'SIGKILL');
    await expect.poll(() => cell(page, 0, 'restarts').textContent(), { timeout: 15_000 }).toBe('1 (crash)');
    await expect.poll(async () => [await cell(page, 0, 'state').textContent(), Number(await cell(page, 0, 'pid').textContent()) !== pid], { timeout: 15_000 }).toEqual(['ready', true]);
    expect(await rows.count()).toBe(2);

    // 4 slots (2 children × 1 thread × 2 tasks): 12 tasks of 1 s queue up, then finish.
    const post = (body: unknown) => request(d.url('/v1/tasks'), { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect(await tile(page, 'traffic', 'p95').textContent()).toBe('-');
    for (let i = 0; i < 12; i++) expect((await post({ input: { hold_ms: 1000 } })).status).toBe(202);
    // One that times out with a single attempt: a dead letter with its error.
    expect((await post({ input: { hold_ms: 10_000 }, timeout_s: 0.3, max_attempts: 1 })).status).toBe(202);
    // The queue, and the tenant's share of it in the tenant table (no API keys: 'anonymous').
    const tenantCell = (n: number) => page.locator(`#tenants tr[data-tenant="anonymous"] td:nth-child(${n})`);
    await expect.poll(async () => [Number(await tile(page, 'tasks', 'queued').textContent()) > 0, Number(await tenantCell(2).textContent({ timeout: 500 }).catch(() => '0')) > 0], { timeout: 10_000 }).toEqual([true, true]);
    await expect.poll(async () => Number(await tile(page, 'tasks', 'running').textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    // The 13 POSTs are this scrape window's requests (kept for one window, 5 s): a p95 appears.
    await expect.poll(() => tile(page, 'traffic', 'p95').textContent(), { timeout: 12_000 }).toMatch(/^\d+(\.\d+)? m?s$/);
    await expect.poll(async () => Number(await tile(page, 'tasks', 'succeeded').textContent()), { timeout: 20_000 }).toBeGreaterThanOrEqual(12);
    await expect.poll(() => tile(page, 'tasks', 'dead').textContent(), { timeout: 10_000 }).toBe('1');
    await expect.poll(() => page.locator('#dead-letters li').first().textContent(), { timeout: 10_000 }).toMatch(/after 1 attempt\(s\): TASK_TIMEOUT/);
    // A burst past the tenant's bucket (limits.burst 40): the refusals show in its row within a scrape or two.
    const burst = await Promise.all(Array.from({ length: 80 }, () => request(d.url('/v1/tasks/none'))));
    expect(burst.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    await expect.poll(async () => Number(await tenantCell(4).textContent({ timeout: 500 }).catch(() => '0')), { timeout: 15_000 }).toBeGreaterThan(0);

    // `drover scale 3`: the autoscaler panel marks the change of the desired count, as manual.
    expect((await cli(['scale', '3'], { DROVER_SUPERVISOR__RUNTIME_DIR: runtimeDir })).code).toBe(0);
    await expect.poll(() => page.locator('#decisions li').first().textContent(), { timeout: 10_000 }).toMatch(/ 2 → 3 \(manual\): .*pinned/);
    // Its reason shows when the pointer is over the mark on the chart.
    const over = (await page.locator('#scale-chart .u-over').boundingBox())!;
    const tip = page.locator('#scale-tip');
    for (let x = over.x + over.width - 1; x > over.x && !(await tip.isVisible()); x -= 3) await page.mouse.move(x, over.y + over.height / 2);
    expect(await tip.textContent()).toMatch(/2 → 3 \(manual\) pinned by drover scale/);
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(3);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
    if (process.env.DROVER_SCREENSHOT_DOCS) await page.screenshot({ path: join(ROOT, 'docs/status-page.png'), fullPage: true });
    // A phone: the page fits its width (the children table scrolls inside its panel).
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => page.evaluate('document.documentElement.scrollWidth'), { timeout: 5_000 }).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-phone.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('with a non-loopback admin bind, / and /events need the token (bearer, or as the Basic password)', async () => {
    for (const path of ['/', '/events']) {
      const r = await request(`${base}${path}`);
      expect(r.status).toBe(401);
      expect(r.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
      expect(r.headers['www-authenticate']).toMatch(/^Basic realm="drover admin"/);
      expect((await request(`${base}${path}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` });
      expect((await request(`${base}${path}`, { headers: basic('nope') })).status).toBe(401);
    }
    const page = await request(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('uPlot');
  });

  it('follows at most 16 event streams at once; the next one gets 503 TOO_MANY_VIEWERS', async () => {
    const open: http.ClientRequest[] = [];
    try {
      let refused: Reply | undefined;
      while (!refused && open.length < 20) {
        const req = http.get(`${base}/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const status = await new Promise<number>((resolve, reject) => req.once('response', (res) => resolve(res.statusCode!)).once('error', reject));
        if (status === 200) open.push(req);
        else {
          req.destroy();
          refused = await request(`${base}/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
        }
      }
      expect(refused?.status).toBe(503);
      expect(refused?.json()).toMatchObject({ error: { code: 'TOO_MANY_VIEWERS' } });
      // The first test's page may still be following the stream: it counts too.
      expect(open.length).toBeGreaterThanOrEqual(15);
      expect(open.length).toBeLessThanOrEqual(16);
    } finally {
      for (const req of open) req.destroy();
    }
  });
});

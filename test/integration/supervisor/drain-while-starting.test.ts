// A child told to drain before it is ready exits, instead of finishing its boot and serving on.
// A drain that reached a child while its (threaded) SQLite store was still opening used to be
// lost, and `drover stop` after a drain and a scale-up waited for the kill timer. Real children
// forked with node:cluster from this process, with the SQLite store in a temp state dir.
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { CHILD_CONFIG_ENV, CHILD_ID_ENV } from '../../../src/ipc/env.ts';
import { ChildHandle } from '../../../src/supervisor/child.ts';
import { MAIN, tempDir } from '../../helpers/drover.ts';

const SLOW_BOOT_AGENT = join(import.meta.dirname, 'fixtures/slow-boot-agent.mjs');
/** Far beyond the time a drained child takes: a child that is still alive then ignored its drain. */
const EXIT_WITHIN_MS = 20_000;

const workers: Worker[] = [];

function fork(agent: string): Worker {
  const config = defaultConfig();
  config.supervisor.state_dir = tempDir('drover-drain-start-');
  config.executor.agent = agent;
  config.log.level = 'warn';
  const worker = cluster.fork({ [CHILD_CONFIG_ENV]: JSON.stringify(config), [CHILD_ID_ENV]: '1', BOOT_HOLD_MS: '1500' });
  workers.push(worker);
  return worker;
}

function exitOf(worker: Worker): Promise<{ code: number | null; signal: string | null } | 'still running'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), EXIT_WITHIN_MS);
    worker.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

describe('a child drained while it starts', () => {
  beforeAll(() => {
    cluster.setupPrimary({ exec: MAIN, execArgv: [], args: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  });

  afterEach(() => {
    for (const w of workers.splice(0)) if (!w.isDead()) w.process.kill('SIGKILL');
  });

  it('drain arriving mid-boot: the child finishes opening its store, never says ready, and exits 0', async () => {
    const worker = fork(SLOW_BOOT_AGENT);
    const said: string[] = [];
    worker.on('message', (m: { t?: string; fixture?: string }) => {
      said.push(m.t ?? m.fixture ?? '?');
      if (m.fixture === 'booting') worker.send({ t: 'drain', deadlineMs: 5000, reason: 'test', idle: 'close' });
    });
    const exit = await exitOf(worker);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(said).toContain('booting');
    expect(said).not.toContain('ready');
  });

  it('drain sent the moment the child is forked (before its code runs): the supervisor\'s handle sees it exit', async () => {
    const worker = fork('');
    // The kill timer would end it after deadline + killAfter: far past EXIT_WITHIN_MS.
    const child = new ChildHandle(1, 1, 1, worker, 8, false, 1000);
    child.drain(5000, 60_000, 'test');
    const exit = await exitOf(worker);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.state).toBe('exited');
  });
});

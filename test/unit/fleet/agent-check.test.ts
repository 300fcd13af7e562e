import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { agentReply, freePercent, nodeMaxconn, type NodeState } from '../../../src/fleet/agent-check.ts';
import { startAgentServer, type AgentServer } from '../../../src/fleet/agent-server.ts';
import { createLogger } from '../../../src/log.ts';

const base: NodeState = { stopping: false, draining: false, storeReachable: true, readyChildren: 2, taskSlots: 100, runningTasks: 0, maxconn: 0, haproxies: 1 };

describe('agentReply', () => {
  const cases: [string, Partial<NodeState>, string][] = [
    ['idle node: up, ready, full weight', {}, 'up ready 100%\n'],
    ['a quarter of the slots busy', { runningTasks: 25 }, 'up ready 75%\n'],
    ['every slot busy: weight 1%, never 0% (HAProxy shows 0% as DRAIN)', { runningTasks: 100 }, 'up ready 1%\n'],
    ['more running than slots (a shrinking child) still 1%', { runningTasks: 130 }, 'up ready 1%\n'],
    ['children have not reported slots yet: full weight', { taskSlots: 0 }, 'up ready 100%\n'],
    ['maxconn for one HAProxy', { maxconn: 512 }, 'up ready 100% maxconn:512\n'],
    ['maxconn divided among three HAProxies, rounded down', { maxconn: 512, haproxies: 3 }, 'up ready 100% maxconn:170\n'],
    ['maxconn never below 1', { maxconn: 2, haproxies: 3 }, 'up ready 100% maxconn:1\n'],
    ['draining', { draining: true }, 'drain #draining\n'],
    ['draining beats not ready', { draining: true, readyChildren: 0 }, 'drain #draining\n'],
    ['no ready child', { readyChildren: 0 }, 'down #no ready child\n'],
    ['store unreachable', { storeReachable: false }, 'down #store unreachable\n'],
    ['stopping beats draining', { stopping: true, draining: true }, 'down #stopping\n'],
  ];
  it.each(cases)('%s', (_, patch, line) => {
    expect(agentReply({ ...base, ...patch })).toBe(line);
  });

  it('always puts a space before # (HAProxy ignores `down#reason` as one unknown word)', () => {
    for (const [, patch] of cases) expect(agentReply({ ...base, ...patch })).not.toMatch(/\S#/);
  });

  it('freePercent and nodeMaxconn', () => {
    expect(freePercent(8, 3)).toBe(63);
    expect(nodeMaxconn('auto', 3, 256)).toBe(768);
    expect(nodeMaxconn(100, 3, 256)).toBe(100);
    expect(nodeMaxconn('auto', 0, 256)).toBe(0);
  });
});

describe('agent-check TCP server', () => {
  let server: AgentServer | undefined;
  afterEach(async () => server?.close());
  const log = createLogger({ role: 'supervisor' }, 'silent');

  const read = (port: number, send?: string) => new Promise<string>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => send && s.write(send));
    let got = '';
    s.setEncoding('utf8').on('data', (c: string) => (got += c)).on('end', () => resolve(got)).on('error', reject);
  });

  it('answers each connection with the current line and closes it', async () => {
    let line = 'up ready 100%\n';
    server = await startAgentServer('127.0.0.1', 0, () => line, log);
    expect(await read(server.port)).toBe('up ready 100%\n');
    line = 'drain #draining\n';
    expect(await read(server.port, 'be_api\n')).toBe('drain #draining\n');
  });

  it('survives clients that reset or close before reading the line', async () => {
    server = await startAgentServer('127.0.0.1', 0, () => 'up ready 100%\n', log);
    const port = server.port;
    await Promise.all(Array.from({ length: 20 }, (_, i) => new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        // An RST (as HAProxy closes) or a plain close, before or while the line is written.
        if (i % 2 === 0) s.resetAndDestroy();
        else s.destroy();
        resolve();
      });
      s.on('error', () => resolve());
    })));
    expect(await read(port)).toBe('up ready 100%\n');
  });
});

import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll } from '../../helpers/drover.ts';
import { request, sleep } from '../../helpers/http.ts';

afterAll(stopAll);

/** A GET through `agent` that resolves to the order in which it was answered. */
function answered(url: string, agent: http.Agent, order: string[], name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      res.resume().on('end', () => {
        order.push(`${name} ${res.statusCode}`);
        resolve();
      });
    }).on('error', reject);
  });
}

/**
 * One child, its event loop burning 1 s. Meanwhile a 100 ms CPU-heavy request arrives, then
 * four pings, each on a keep-alive connection that was open before: when the spin ends, the
 * child reads all five in one go (the margin is for a test process that a busy machine
 * delays). In which order are they answered?
 */
async function orderAfterSpin(): Promise<{ order: string[]; deferred: number }> {
  const d = await startDrover({
    testRoutes: true,
    args: ['start', '--port', '0', '--children', '1'],
    // Connections stay with the child: the supervisor does not take idle ones back.
    env: { DROVER_BALANCER__REBIND_IDLE_AFTER: '0' },
  });
  // The child learns that /debug/spin holds its event loop.
  await request(d.url('/debug/spin?ms=20'));
  const heavyAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const pingAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const opened: string[] = [];
  await Promise.all([
    answered(d.url('/v1/ping'), heavyAgent, opened, 'open'),
    ...Array.from({ length: 4 }, () => answered(d.url('/v1/ping'), pingAgent, opened, 'open')),
  ]);
  const busy = request(d.url('/debug/spin?ms=1000'));
  await sleep(150);
  const order: string[] = [];
  const heavy = answered(d.url('/debug/spin?ms=100'), heavyAgent, order, 'heavy');
  await sleep(30);
  const pings = Array.from({ length: 4 }, () => answered(d.url('/v1/ping'), pingAgent, order, 'ping'));
  await Promise.all([busy, heavy, ...pings]);
  const admin = (await d.waitLog((l) => l.msg === 'admin listening')).port as number;
  const metrics = (await request(`http://127.0.0.1:${admin}/metrics`)).body;
  const deferred = Number(/^drover_http_requests_deferred_total\{child="\d+"\} (\d+)$/m.exec(metrics)?.[1]);
  heavyAgent.destroy();
  pingAgent.destroy();
  await d.stop();
  return { order, deferred };
}

describe('quick requests first inside a child', () => {
  // In arrival order the heavy request would be answered first: it was read first.
  it('pings a child has read go before a CPU-heavy request that came first', async () => {
    const quick = await orderAfterSpin();
    expect(quick.order).toEqual(['ping 200', 'ping 200', 'ping 200', 'ping 200', 'heavy 200']);
    // The 1 s spin and the 100 ms one each started a turn late, as /metrics says.
    expect(quick.deferred).toBe(2);
  });
});

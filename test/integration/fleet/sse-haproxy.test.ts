// An event stream through HAProxy outlives twice HAProxy's `timeout server` of agent silence:
// drover's heartbeat comments (limits.sse_heartbeat) keep the stream backend's server side
// busy, so a task that thinks for minutes between events still streams to the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDrover, stopAll, type DroverProcess } from '../../helpers/drover.ts';
import { haproxyForDrover, showStat, stopAllHaproxy, type HaproxyProcess } from '../../helpers/haproxy.ts';
import { sleep } from '../../helpers/http.ts';
import { json, openSse } from '../../helpers/sse.ts';
import { submit } from '../../helpers/tasks.ts';
import { AGENT } from '../api/support.ts';

// Short, so the test is short; the generated config's own value is at least 60 s.
const SSE_TIMEOUT_S = 2;
let d: DroverProcess;
let front: string;

beforeAll(async () => {
  d = await startDrover({
    args: ['start', '--port', '0', '--children', '1'],
    env: {
      DROVER_EXECUTOR__AGENT: AGENT,
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2',
      DROVER_LIMITS__SSE_HEARTBEAT: '0.5',
    },
  });
  const sseBackend = /(backend be_drover_sse\n(?:.*\n)*?\s+timeout server )\d+s/;
  let h: HaproxyProcess;
  ({ h, front } = await haproxyForDrover({
    servers: [`127.0.0.1:${d.port}`],
    slots: 0,
    edit: (config) => {
      expect(config).toMatch(sseBackend);
      return config.replace(sseBackend, `$1${SSE_TIMEOUT_S}s`);
    },
  }));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const rows = await showStat(h);
    if (rows.some((r) => r.pxname === 'be_drover_sse' && r.svname === 'node1' && r.status === 'UP')) break;
    await sleep(200);
  }
}, 120_000);

afterAll(async () => {
  await stopAllHaproxy();
  await stopAll();
});

describe('an event stream through HAProxy', () => {
  it(`survives ${2 * SSE_TIMEOUT_S + 1} s of agent silence past a ${SSE_TIMEOUT_S} s timeout server, on heartbeats`, async () => {
    const silenceMs = (2 * SSE_TIMEOUT_S + 1) * 1000;
    const id = await submit(front, { steps: 1, hold_ms: silenceMs, result: 'after the silence' });
    const stream = await openSse(`${front}/v1/tasks/${id}/events`);
    expect(stream.status).toBe(200);
    await stream.waitFor((e) => e.event === 'progress', 10_000);
    const done = await stream.waitFor((e) => e.event === 'done', silenceMs + 10_000);
    expect(json<{ status: string }>(done).status).toBe('succeeded');
    // The heartbeats went through HAProxy to the client.
    expect(stream.comments.length).toBeGreaterThanOrEqual(2 * SSE_TIMEOUT_S);
    stream.close();
  }, 60_000);
});

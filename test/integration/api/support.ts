// Shared by the API tests: a drover running the test agent (fixtures/agent.mjs) with short
// leases and polls, requests with a tenant's key, and connections pinned to one child.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startDrover, tempDir, type DroverProcess } from '../../helpers/drover.ts';
import { request, sleep, type Reply } from '../../helpers/http.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { openStore, type Store, type Task } from '../../../src/store/index.ts';

export const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');

export interface Api {
  d: DroverProcess;
  stateDir: string;
  /** The drover's own store file, opened from the test process. */
  store(): Promise<Store>;
  close(): Promise<void>;
}

/** `[[auth.keys]]` tables for tenant → key. */
export function keysToml(keys: Record<string, string>): string {
  return Object.entries(keys)
    .map(([tenant, key]) => `[[auth.keys]]\nsha256 = "${createHash('sha256').update(key).digest('hex')}"\ntenant = "${tenant}"\n`)
    .join('\n');
}

export async function startApi(opts: { children?: number; env?: Record<string, string>; config?: string } = {}): Promise<Api> {
  const stateDir = tempDir('drover-state-');
  const d = await startDrover({
    args: ['start', '--port', '0', '--children', String(opts.children ?? 1)],
    ...(opts.config !== undefined && { config: opts.config }),
    env: {
      DROVER_SUPERVISOR__STATE_DIR: stateDir,
      DROVER_EXECUTOR__AGENT: AGENT,
      DROVER_EXECUTOR__LEASE: '1',
      DROVER_EXECUTOR__POLL_INTERVAL: '0.05',
      DROVER_SUPERVISOR__SHUTDOWN_TIMEOUT: '2',
      DROVER_LIMITS__SSE_HEARTBEAT: '0.2',
      ...opts.env,
    },
  });
  let store: Promise<Store> | undefined;
  return {
    d,
    stateDir,
    store: () => (store ??= openStore({ ...defaultConfig().store, stateDir })),
    close: async () => {
      await (await store)?.close();
      await d.stop();
    },
  };
}

export interface CallOptions {
  body?: unknown;
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string;
  headers?: Record<string, string>;
  agent?: http.Agent;
}

export function call(d: DroverProcess, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== undefined) headers['authorization'] = `Bearer ${opts.key}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  return request(d.url(path), {
    method,
    headers,
    ...(opts.body !== undefined && { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }),
    ...(opts.agent && { agent: opts.agent }),
  });
}

/**
 * One keep-alive connection per child, found by asking /v1/ping (it answers with the pid)
 * on fresh connections until every child has one. The balancer hands over connections, not
 * requests, so everything sent on a pinned connection is served by that child.
 */
/**
 * Keep-alive connections stay on the child that accepted them (by default an idle one goes back
 * to the supervisor, which gives its next request to any child): for tests that talk to a
 * chosen child through connectionsByChild().
 */
export const PINNED_CONNECTIONS = { DROVER_BALANCER__REBIND_IDLE_AFTER: '0' };

export async function connectionsByChild(d: DroverProcess, children: number): Promise<Map<number, http.Agent>> {
  const byPid = new Map<number, http.Agent>();
  // Up to 5 s, not a number of tries: 40 quick ones (~90 ms) all reached one child once while
  // many test files ran (a child slow to report its load keeps looking the busier one).
  const deadline = Date.now() + 5_000;
  for (let i = 0; byPid.size < children && Date.now() < deadline; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const { pid } = (await request(d.url('/v1/ping'), { agent })).json<{ pid: number }>();
    if (byPid.has(pid)) agent.destroy();
    else byPid.set(pid, agent);
    if (i >= 20 && byPid.size < children) await sleep(20);
  }
  if (byPid.size < children) throw new Error(`reached ${byPid.size} of ${children} children in 5 s`);
  return byPid;
}

/** Waits until the task (read from the store) satisfies pred. */
export async function until(store: Store, tenant: string, id: string, pred: (t: Task) => boolean, timeoutMs = 10_000): Promise<Task> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const t = await store.get(tenant, id);
    if (t && pred(t)) return t;
    if (Date.now() > end) throw new Error(`task ${id} never matched; last: ${JSON.stringify(t)}`);
    await sleep(25);
  }
}

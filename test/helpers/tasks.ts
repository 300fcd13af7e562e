import { request, sleep } from './http.ts';

export interface TaskView {
  id: string;
  status: string;
  attempt: number;
  result: unknown;
  error: unknown;
}

/** Submits a task through the public API; returns its id. */
export async function submit(base: string, input: unknown, headers: Record<string, string> = {}): Promise<string> {
  const r = await request(`${base}/v1/tasks`, { method: 'POST', body: JSON.stringify({ input }), headers: { 'content-type': 'application/json', ...headers } });
  if (r.status !== 202 && r.status !== 200) throw new Error(`submit answered ${r.status}: ${r.body}`);
  return r.json<{ id: string }>().id;
}

/** Polls until every task is finished (or the deadline passes); returns their final views. */
export async function waitAll(base: string, ids: string[], timeoutMs: number, headers: Record<string, string> = {}): Promise<TaskView[]> {
  const done = new Map<string, TaskView>();
  const deadline = Date.now() + timeoutMs;
  while (done.size < ids.length && Date.now() < deadline) {
    for (const id of ids) {
      if (done.has(id)) continue;
      const t = (await request(`${base}/v1/tasks/${id}`, { headers })).json<TaskView>();
      if (['succeeded', 'dead', 'cancelled'].includes(t.status)) done.set(id, t);
    }
    if (done.size < ids.length) await sleep(200);
  }
  if (done.size < ids.length) throw new Error(`${ids.length - done.size} of ${ids.length} tasks unfinished after ${timeoutMs} ms`);
  return ids.map((id) => done.get(id)!);
}

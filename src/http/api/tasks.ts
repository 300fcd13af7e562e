// /v1/tasks: submit, look up, list, stream and cancel. Every lookup is by (tenant, id), so a
// task of another tenant is indistinguishable from one that does not exist: 404, never 403.
import type { FastifyInstance } from 'fastify';
import { isTerminal, type Task } from '../../store/index.ts';
import { ApiError } from '../errors.ts';
import { path } from '../routes.ts';
import { submit, settle, submitOptions, taskNotFound, type ApiContext } from './context.ts';
import { TaskList, TaskView, type ListQuery, type SubmitTaskBody } from './schemas.ts';
import { SSE_HEADERS, openEventStream } from './sse.ts';
import { taskView } from './view.ts';

const LAST_EVENT_ID = /^\d{1,15}$/;

export function registerTaskRoutes(api: FastifyInstance, ctx: ApiContext): void {
  const { store, schemas } = ctx;
  const find = async (tenant: string, id: string): Promise<Task> => {
    const task = await store.get(tenant, id);
    if (!task) throw taskNotFound(id);
    return task;
  };

  path(api, '/v1/tasks', [
    {
      method: 'POST',
      options: { schema: { body: schemas.SubmitTask, querystring: schemas.WaitQuery, response: { 200: TaskView, 202: TaskView } } },
      handler: async (request, reply) => {
        const body = request.body as SubmitTaskBody;
        return submit(ctx, request, reply, { ...submitOptions(ctx, request, body), input: body.input });
      },
    },
    {
      method: 'GET',
      options: { schema: { querystring: schemas.ListQuery, response: { 200: TaskList } } },
      handler: async (request) => {
        const q = request.query as ListQuery;
        const tasks = await store.list(request.tenant, {
          limit: q.limit,
          ...(q.status !== undefined && { status: q.status }),
          ...(q.cursor !== undefined && { before: q.cursor }),
        });
        const last = tasks.length === q.limit ? tasks[tasks.length - 1] : undefined;
        return { tasks: tasks.map((t) => taskView(t, { input: false })), next_cursor: last?.id ?? null };
      },
    },
  ]);

  path(api, '/v1/tasks/:id', [
    {
      method: 'GET',
      options: { schema: { params: schemas.TaskParams, querystring: schemas.WaitQuery, response: { 200: TaskView } } },
      handler: async (request, reply) => {
        const { id } = request.params as { id: string };
        const task = await settle(ctx, request, reply, await find(request.tenant, id));
        return taskView(task, { input: true });
      },
    },
    {
      // queued → cancelled at once (200); running → cancelling (202: the executor aborts the
      // run's signal and the task ends cancelled); cancelling again is a no-op; a finished
      // task, cancelled ones included, cannot be cancelled (409). Two DELETEs racing on one
      // queued task may both see it queued and both answer 200: the outcome is the same.
      method: 'DELETE',
      options: { schema: { params: schemas.TaskParams, response: { 200: TaskView, 202: TaskView } } },
      handler: async (request, reply) => {
        const { id } = request.params as { id: string };
        const finished = (t: Task) => new ApiError(409, 'TASK_FINISHED', `task ${id} already finished (${t.status})`);
        const before = await find(request.tenant, id);
        if (isTerminal(before.status)) throw finished(before);
        const task = await store.cancel(request.tenant, id);
        if (!task) throw taskNotFound(id);
        if (task.status === 'succeeded' || task.status === 'dead') throw finished(task);
        return reply.code(task.status === 'cancelled' ? 200 : 202).send(taskView(task, { input: false }));
      },
    },
  ]);

  path(api, '/v1/tasks/:id/events', [
    {
      method: 'GET',
      options: { schema: { params: schemas.TaskParams, querystring: schemas.EventsQuery } },
      handler: async (request, reply) => {
        const { id } = request.params as { id: string };
        // EventSource resends the last id it saw in the header on reconnect, keeping the URL,
        // so the header wins over the query parameter.
        const header = request.headers['last-event-id'];
        if (header !== undefined && (typeof header !== 'string' || !LAST_EVENT_ID.test(header.trim()))) {
          throw new ApiError(400, 'INVALID_REQUEST', 'Last-Event-ID must be an event id (a non-negative integer)');
        }
        const after = header !== undefined ? Number(header) : ((request.query as { last_event_id?: number }).last_event_id ?? 0);
        const task = await find(request.tenant, id);
        if (after > 0 && (await store.events(id, after - 1, 1))[0]?.seq !== after) {
          throw new ApiError(400, 'INVALID_REQUEST', `task ${id} has no event ${after}`);
        }
        // Resuming after the final event: nothing more will come. 204 also tells an
        // EventSource to stop reconnecting.
        if (isTerminal(task.status) && (await store.events(id, after, 1)).length === 0) return reply.code(204).send();
        // fastify answers HEAD with this handler and drains the body, which would keep a
        // stream subscribed until the task ends: HEAD gets the headers alone.
        if (request.method === 'HEAD') return reply.code(200).headers(SSE_HEADERS).send();
        const body = openEventStream({ store, taskId: id, after, heartbeatMs: ctx.config.limits.sse_heartbeat * 1000, stop: ctx.stop });
        return reply.code(200).headers(SSE_HEADERS).send(body);
      },
    },
  ]);
}

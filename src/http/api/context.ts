// What the API's routes share, and the one way a task is submitted (plain tasks and chat
// turns alike), so both answer with the same statuses, headers and long-poll behaviour.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config/schema.ts';
import { isStoreError, isTerminal, type EnqueueRequest, type Store, type Task } from '../../store/index.ts';
import { ApiError } from '../errors.ts';
import { requestHash } from './request-hash.ts';
import type { Schemas } from './schemas.ts';
import { taskUrl, taskView } from './view.ts';
import { requestedWait, waitForFinal } from './wait.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API's auth hook on every API route. */
    tenant: string;
  }
}

export interface ApiContext {
  config: Config;
  store: Store;
  schemas: Schemas;
  /** Fires when the child starts draining: long polls answer, event streams end. */
  stop: AbortSignal;
}

export function taskNotFound(id: string): ApiError {
  return new ApiError(404, 'TASK_NOT_FOUND', `no task ${id}`);
}

/** Options common to tasks and turns, from the body, the Idempotency-Key header and defaults. */
export function submitOptions(ctx: ApiContext, request: FastifyRequest, body: { priority?: number; idempotency_key?: string; timeout_s?: number; max_attempts?: number }) {
  const header = request.headers['idempotency-key'];
  if (header !== undefined && (typeof header !== 'string' || header === '' || header.length > 255)) {
    throw new ApiError(400, 'INVALID_REQUEST', 'the Idempotency-Key header must be 1 to 255 characters');
  }
  if (header !== undefined && body.idempotency_key !== undefined && header !== body.idempotency_key) {
    throw new ApiError(400, 'INVALID_REQUEST', 'the Idempotency-Key header and body.idempotency_key differ');
  }
  return taskOptions(ctx, request.tenant, body, body.idempotency_key ?? header);
}

/** The store's options for a submission: the body's, else the executor's defaults. */
export function taskOptions(ctx: ApiContext, tenant: string, body: { priority?: number; timeout_s?: number; max_attempts?: number }, key: string | undefined) {
  const ex = ctx.config.executor;
  return {
    tenant,
    ...(body.priority !== undefined && { priority: body.priority }),
    ...(key !== undefined && { idempotencyKey: key }),
    timeoutMs: Math.ceil((body.timeout_s ?? ex.task_timeout) * 1000),
    maxAttempts: body.max_attempts ?? ex.max_attempts,
  };
}

/**
 * Enqueues, or finds the task an idempotency key stands for. A key stands for the request it
 * was first sent with (`body`): the store refuses a replay of another. A full queue is 503.
 */
export async function enqueue(ctx: ApiContext, req: EnqueueRequest, body: unknown): Promise<{ task: Task; created: boolean }> {
  if (req.idempotencyKey !== undefined) {
    req = { ...req, requestHash: requestHash({ kind: req.kind ?? 'task', sessionId: req.sessionId }, body) };
  }
  try {
    return await ctx.store.enqueue(req);
  } catch (err) {
    if (!isStoreError(err, 'QUEUE_FULL')) throw err;
    throw new ApiError(503, 'QUEUE_FULL', err.message, { 'retry-after': String(Math.ceil(ctx.config.limits.queue_full_retry_after)) });
  }
}

/** After an optional wait, the task as it is now. */
export async function settle(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, task: Task): Promise<Task> {
  if (isTerminal(task.status)) return task;
  const wait = requestedWait(request, ctx.config.limits.max_wait);
  if (wait <= 0) return task;
  await waitForFinal(ctx.store, task.id, wait * 1000, reply, ctx.stop);
  return (await ctx.store.get(task.tenant, task.id)) ?? task;
}

/**
 * Enqueues and answers: 202 while the task is not finished, 200 with the result once it is
 * (after ?wait=, or an idempotent replay of a finished task). A replay carries
 * `Idempotent-Replayed: true`; the key with another request is 409 IDEMPOTENCY_MISMATCH; a
 * full queue is 503 QUEUE_FULL with Retry-After.
 */
export async function submit(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, req: EnqueueRequest) {
  const enqueued = await enqueue(ctx, req, request.body);
  const task = await settle(ctx, request, reply, enqueued.task);
  reply.header('location', taskUrl(task.id));
  if (!enqueued.created) reply.header('idempotent-replayed', 'true');
  return reply.code(isTerminal(task.status) ? 200 : 202).send(taskView(task, { input: false }));
}

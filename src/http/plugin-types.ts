// What a user's routes module ([http] plugin) is written against. Its default export is a
// fastify plugin; each child registers it behind drover's API-key auth and error handling and
// hands it `drover`, the same task calls the /v1 routes make. Types only: a plugin imports
// them with `import type`, which the binary's loader (Node's type stripping) erases.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SubmitTaskBody, TaskViewBody } from './api/schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant of the request's API key ("anonymous" when no keys are configured). */
    tenant: string;
  }
}

/** A task as GET /v1/tasks/:id shows it. */
export type TaskView = TaskViewBody;

/** What POST /v1/tasks takes: `input` and the optional priority, idempotency_key, timeout_s, max_attempts. */
export type SubmitTask = SubmitTaskBody;

export interface DroverTasks {
  /**
   * Enqueues a task for the request's tenant, checked like a POST /v1/tasks body (else a 400
   * INVALID_REQUEST). `created` is false when `idempotency_key` named a task already there
   * (the same key with another task is 409 IDEMPOTENCY_MISMATCH); a full queue is 503 QUEUE_FULL.
   */
  submit(request: FastifyRequest, task: SubmitTask): Promise<{ task: TaskView; created: boolean }>;
  /** The request's tenant's task, or null (another tenant's task is not there either). */
  get(request: FastifyRequest, id: string): Promise<TaskView | null>;
  /**
   * The task once it has finished or `seconds` have passed, whichever is first (as ?wait=N):
   * a wait ends early when the client goes away or the child drains. Null if there is no such task.
   */
  wait(reply: FastifyReply, id: string, seconds: number): Promise<TaskView | null>;
}

export interface Drover {
  readonly tasks: DroverTasks;
  /** An error answered in drover's shape: `{ "error": { "code", "message" } }` with this status. */
  error(status: number, code: string, message: string, headers?: Record<string, string>): Error;
  /** This child's number, as /v1/ping shows it. */
  readonly child: number;
}

/**
 * The default export of an [http] plugin module: `export default (async (app, drover) => {
 * app.post('/hooks/x', async (request, reply) => …) }) satisfies DroverPlugin`.
 */
export type DroverPlugin = (app: FastifyInstance, drover: Drover) => Promise<void>;

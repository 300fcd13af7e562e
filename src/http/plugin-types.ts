// What a user's routes module ([http] plugin) is written against. Its default export is a
// fastify plugin; each child registers it behind drover's API-key auth and error handling and
// hands it `drover`, the same task calls the /v1 routes make. Types only, and this file alone
// (with fastify's types): a plugin author copies it, or `drover types routes` prints it, and
// imports it with `import type`, which Node's type stripping erases.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant of the request's API key ("anonymous" when no keys are configured). */
    tenant: string;
  }
}

export interface TaskError {
  code: string;
  message: string;
}

/**
 * A task as GET /v1/tasks/:id shows it (src/http/api/schemas.ts, TaskView, is the source:
 * plugin-api.ts hands out what that schema serialises, which the compiler checks fits this).
 */
export interface TaskView {
  id: string;
  kind: 'task' | 'turn';
  session_id: string | null;
  status: string;
  priority: number;
  /** Number of the current or last run (0 before the first). */
  attempt: number;
  /** Every run, oldest first; `error` is why that run failed. */
  attempts: { n: number; error: TaskError | null; started_at: string; finished_at: string | null }[];
  max_attempts: number;
  timeout_s: number;
  idempotency_key: string | null;
  /** ISO 8601, UTC. */
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Present on get and wait, not on submit (as in the /v1 answers). */
  input?: unknown;
  result: unknown;
  error: TaskError | null;
  links: { self: string; events: string; session?: string };
}

/** What POST /v1/tasks takes. */
export interface SubmitTask {
  input: unknown;
  /** -1000…1000; higher runs first. Default 0. */
  priority?: number;
  /** 1–255 characters: a task submitted again with the same key is the same task. */
  idempotency_key?: string;
  /** Default executor.task_timeout; at most limits.max_task_timeout. */
  timeout_s?: number;
  /** 1…100. Default executor.max_attempts. */
  max_attempts?: number;
}

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
  /**
   * Takes one request from the tenant's bucket (limits.rate_per_second, limits.burst), the one
   * the /v1 routes draw from, and sets the RateLimit-* headers; past the burst it throws 429
   * RATE_LIMITED with Retry-After. Plugin routes are not limited unless they call it (e.g.
   * from an onRequest hook of their own).
   */
  rateLimit(request: FastifyRequest, reply: FastifyReply): Promise<void>;
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

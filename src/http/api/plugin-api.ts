// The `drover` a user's routes plugin gets: the store calls the /v1/tasks routes make, with
// the same checks, defaults, idempotency and errors, so a webhook or a façade that submits a
// task behaves as a POST /v1/tasks would.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isTerminal } from '../../store/index.ts';
import type { Drover, SubmitTask, TaskView } from '../plugin-types.ts';
import { ApiError } from '../errors.ts';
import { enqueue, taskOptions, type ApiContext } from './context.ts';
import { deeperThan } from './depth.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { SubmitTaskBody, TaskViewBody } from './schemas.ts';
import { taskView } from './view.ts';
import { waitForFinal } from './wait.ts';

// The plugin types are written out (plugin-types.ts stands alone for plugin authors); the
// compiler checks that they and the API's schemas describe the same shapes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const agree: Same<TaskView, TaskViewBody> & Same<SubmitTask, SubmitTaskBody> = true;
void agree;

export function pluginApi(ctx: ApiContext, child: number, limiter: RateLimiter): Drover {
  const { store } = ctx;
  const submission = TypeCompiler.Compile(ctx.schemas.SubmitTask);
  const maxDepth = ctx.config.limits.max_json_depth;

  const check = (task: SubmitTask): void => {
    // Before the schema check and the idempotency hash, which walk the input recursively.
    if (deeperThan(task, maxDepth)) throw new ApiError(400, 'BODY_TOO_DEEP', `the task nests arrays and objects more than ${maxDepth} levels deep (limits.max_json_depth)`);
    if (submission.Check(task)) return;
    const first = submission.Errors(task).First();
    throw new ApiError(400, 'INVALID_REQUEST', first ? `task${first.path.replaceAll('/', '.')}: ${first.message.charAt(0).toLowerCase()}${first.message.slice(1)}` : 'invalid task');
  };

  const get = async (request: FastifyRequest, id: string): Promise<TaskView | null> => {
    const task = await store.get(request.tenant, id);
    return task ? taskView(task, { input: true }) : null;
  };

  return {
    child,
    rateLimit: (request, reply) => limiter.take(request.tenant, reply),
    error: (status, code, message, headers) => new ApiError(status, code, message, headers),
    tasks: {
      async submit(request, task) {
        check(task);
        const { task: stored, created } = await enqueue(ctx, { ...taskOptions(ctx, request.tenant, task, task.idempotency_key), input: task.input }, task);
        return { task: taskView(stored, { input: false }), created };
      },
      get,
      async wait(reply: FastifyReply, id: string, seconds: number) {
        const request = reply.request;
        const before = await store.get(request.tenant, id);
        if (!before) return null;
        if (isTerminal(before.status)) return taskView(before, { input: true });
        await waitForFinal(store, id, seconds * 1000, reply, ctx.stop);
        return get(request, id);
      },
    },
  };
}

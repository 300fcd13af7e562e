// /v1/sessions/:id: chat sessions. A message becomes a task of kind `turn` bound to the
// session; turns of one session run one at a time, in order, and the turn that runs appends
// to the history (the store fences that append with the turn's claim). The session id is the
// client's; it is scoped to the tenant, so two tenants using the same id never meet.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';
import { path } from '../routes.ts';
import { submit, submitOptions, type ApiContext } from './context.ts';
import { SessionView, TaskView, type SendMessageBody } from './schemas.ts';
import { sessionView } from './view.ts';

const notFound = (id: string) => new ApiError(404, 'SESSION_NOT_FOUND', `no session ${id}`);

/** A turn's input as the agent and the executor receive it: the user's ChatMessage. */
function turnInput(message: SendMessageBody['message']): { role: 'user'; content: string; name?: string } {
  return typeof message === 'string' ? { role: 'user', content: message } : { ...message, role: 'user' };
}

export function registerSessionRoutes(api: FastifyInstance, ctx: ApiContext): void {
  const { store, schemas } = ctx;

  path(api, '/v1/sessions/:id/messages', [
    {
      method: 'POST',
      options: { schema: { params: schemas.SessionParams, body: schemas.SendMessage, querystring: schemas.WaitQuery, response: { 200: TaskView, 202: TaskView } } },
      handler: async (request, reply) => {
        const { id } = request.params as { id: string };
        const body = request.body as SendMessageBody;
        return submit(ctx, request, reply, { ...submitOptions(ctx, request, body), kind: 'turn', sessionId: id, input: turnInput(body.message) });
      },
    },
  ]);

  path(api, '/v1/sessions/:id', [
    {
      // History exists once a turn has appended to it; before that the session is a 404.
      method: 'GET',
      options: { schema: { params: schemas.SessionParams, response: { 200: SessionView } } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const session = await store.sessionGet(request.tenant, id);
        if (!session) throw notFound(id);
        return sessionView(session);
      },
    },
    {
      method: 'DELETE',
      options: { schema: { params: schemas.SessionParams } },
      handler: async (request, reply) => {
        const { id } = request.params as { id: string };
        if (!(await store.sessionDelete(request.tenant, id))) throw notFound(id);
        return reply.code(204).send();
      },
    },
  ]);
}

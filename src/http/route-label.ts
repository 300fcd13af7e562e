import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ChildResponse } from './response.ts';

/**
 * The route a response answered, for the request metrics, read from the raw response when it
 * closes. Setting it from each handler (and from error replies) costs one property write; a
 * fastify onResponse hook would cost a hook run, two listeners and two clock reads per request.
 */
export function labelRoutes(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    const url = route.url;
    route.handler = function labelled(this: FastifyInstance, request, reply) {
      (reply.raw as ChildResponse).route = url;
      return handler.call(this, request, reply);
    };
  });
}

/** For replies sent before a handler ran (hooks, validation, not found). */
export function labelReply(reply: FastifyReply): void {
  (reply.raw as ChildResponse).route ??= reply.request.routeOptions.url ?? 'unmatched';
}

export function routeOf(res: ChildResponse): string {
  return res.route ?? 'unmatched';
}

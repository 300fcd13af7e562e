import type { FastifyInstance, RouteHandlerMethod, RouteShorthandOptions } from 'fastify';
import { ApiError, sendError } from './errors.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const ALL: Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export interface RouteDef {
  method: Method;
  handler: RouteHandlerMethod;
  options?: RouteShorthandOptions;
}

/**
 * Registers one path with its methods, and answers every other method on it with 405 and an
 * Allow header (fastify alone would say 404, which tells a client the path does not exist).
 */
export function path(app: FastifyInstance, url: string, defs: RouteDef[]): void {
  const allowed = defs.map((d) => d.method);
  for (const d of defs) app.route({ ...(d.options ?? {}), method: d.method, url, handler: d.handler });
  const others = ALL.filter((m) => !allowed.includes(m));
  if (others.length === 0) return;
  const allow = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])].join(', ');
  app.route({
    method: others,
    url,
    handler: (request, reply) =>
      sendError(reply, new ApiError(405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url}`, { allow })),
  });
}

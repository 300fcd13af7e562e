import http from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { ApiError, clientErrorHandler, errorHandlerFor, frameworkErrorHandler, MAX_PARAM_LENGTH, sendError, storeUnavailable } from './errors.ts';
import { QuickFirst } from '../balancer/child/quick-first.ts';
import { ChildResponse } from './response.ts';
import { labelRoutes } from './route-label.ts';
import { path } from './routes.ts';

export interface ChildState {
  id: number;
  /** Ready for traffic: false while starting and once draining. */
  ready: boolean;
  draining: boolean;
  /** Why the store cannot serve (set by the API once it has a store), or null. */
  storeFault?: () => string | null;
}

/**
 * The child's HTTP application. Its server never listens: the supervisor hands it accepted
 * sockets. Because Node arms header and request timeouts only on 'listening', the server is
 * created here with a short check interval and told it is listening. `onRequest` sees each
 * request before fastify does (the load tracker).
 */
export function buildApp(
  config: Config, state: ChildState, log: Logger,
  onRequest?: (req: http.IncomingMessage, res: ChildResponse) => void,
): { app: FastifyInstance; server: http.Server; quickFirst: QuickFirst } {
  const s = config.server;
  let server!: http.Server;
  // Fastify's instance type is parameterised by the logger; pino's Logger and fastify's
  // FastifyBaseLogger differ only in typing, so the plain instance type is used throughout.
  const app = Fastify({
    // No logger for fastify: with one it makes a child logger and response listeners for every
    // request even with request logging off. One line per request would flood journald anyway;
    // metrics count requests, and errors.ts logs failures with drover's logger.
    logger: false,
    bodyLimit: s.body_limit_bytes,
    keepAliveTimeout: s.keep_alive_timeout * 1000,
    requestTimeout: s.request_timeout * 1000,
    maxRequestsPerSocket: s.max_requests_per_connection || undefined,
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Every error a client can see has drover's {error:{code,message}} shape, fastify's own too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    serverFactory: (handler) => {
      server = http.createServer({
        ServerResponse: ChildResponse,
        connectionsCheckingInterval: Math.min(1000, s.header_timeout * 250),
        headersTimeout: s.header_timeout * 1000,
        requestTimeout: s.request_timeout * 1000,
        keepAliveTimeout: s.keep_alive_timeout * 1000,
      }, onRequest ? (req, res) => {
        onRequest(req, res as ChildResponse);
        handler(req, res);
      } : handler);
      server.maxRequestsPerSocket = s.max_requests_per_connection || null;
      return server;
    },
  }) as unknown as FastifyInstance;
  server.emit('listening');

  // Registered first, so the route label is set before a heavy request waits.
  const quickFirst = new QuickFirst();
  quickFirst.register(app, server);
  labelRoutes(app);
  app.setErrorHandler(errorHandlerFor(log));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ApiError(404, 'NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`)));

  path(app, '/healthz', [{ method: 'GET', handler: async () => ({ status: 'ok' }) }]);
  // Ready means this child can serve the API: started, not draining, and its store sound (a
  // damaged file or a failing disk makes every API call fail, so a balancer should look elsewhere).
  path(app, '/readyz', [{ method: 'GET', handler: async (_req, reply) => {
    if (!state.ready) return sendError(reply, new ApiError(503, state.draining ? 'DRAINING' : 'STARTING', state.draining ? 'draining' : 'starting'));
    if (state.storeFault?.()) return sendError(reply, storeUnavailable());
    return { status: 'ready' };
  } }]);
  path(app, '/v1/ping', [{ method: 'GET', handler: async () => ({ pong: true, child: state.id, pid: process.pid }) }]);
  return { app, server, quickFirst };
}

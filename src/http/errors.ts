import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.ts';
import { StoreError, type StoreErrorCode } from '../store/errors.ts';
import type { ChildResponse } from './response.ts';
import { labelReply } from './route-label.ts';

/** An error the API answers with `{error:{code,message}}`; `code` is stable, clients switch on it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** Longest path parameter (an id) the router takes; a longer one is 414 URI_TOO_LONG. Session
 * ids go up to 128 characters; between that and this, the route's schema answers 400. */
export const MAX_PARAM_LENGTH = 512;

// Fastify's own error codes mapped to ours, so every client-side mistake has one stable name.
// A third entry replaces fastify's message where that message echoes the request's URL.
const fastifyCodes: Record<string, [number, string, string?]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'BODY_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_CONTENT_LENGTH'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_VALIDATION: [400, 'INVALID_REQUEST'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'URI_TOO_LONG', `an id in the path is longer than ${MAX_PARAM_LENGTH} characters`],
  FST_ERR_BAD_URL: [400, 'INVALID_URL', 'the path is not a valid URL (bad percent-encoding)'],
};

// What node's HTTP parser refuses before fastify sees a request (fastify's clientError handler
// answers these with a body of its own shape).
const clientErrorCodes: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'the request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'the request headers are too large'],
};

// Store errors a client can act on (QUEUE_FULL is answered where the queue is, with the
// configured Retry-After); any other store error is a 500.
const storeCodes: Partial<Record<StoreErrorCode, [number, string, Record<string, string>]>> = {
  STORE_BUSY: [503, 'STORE_BUSY', { 'retry-after': '1' }],
  UNAVAILABLE: [503, 'UNAVAILABLE', { 'retry-after': '1' }],
  INVALID_ARGUMENT: [400, 'INVALID_REQUEST', {}],
  IDEMPOTENCY_MISMATCH: [409, 'IDEMPOTENCY_MISMATCH', {}],
};

/** The store's file is damaged or its disk fails. The details (with the file's path) go to
 * the log, not to clients. */
export function storeUnavailable(): ApiError {
  return new ApiError(503, 'STORE_UNAVAILABLE', 'the task store is failing on this node (its log says why)');
}

export function toApiError(err: FastifyError | ApiError | Error): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError && err.code === 'STORE_FAILED') return storeUnavailable();
  const store = err instanceof StoreError ? storeCodes[err.code] : undefined;
  if (store) return new ApiError(store[0], store[1], err.message, store[2]);
  const fe = err as FastifyError;
  if (fe.validation) return new ApiError(400, 'INVALID_REQUEST', fe.message);
  const mapped = fe.code ? fastifyCodes[fe.code] : undefined;
  if (mapped) return new ApiError(mapped[0], mapped[1], mapped[2] ?? fe.message);
  // Body-parser errors (bad JSON) arrive as SyntaxError with a 400 statusCode.
  if (fe.statusCode === 400 && err instanceof SyntaxError) return new ApiError(400, 'INVALID_JSON', err.message);
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new ApiError(fe.statusCode, 'BAD_REQUEST', fe.message);
  return new ApiError(500, 'INTERNAL', 'internal error');
}

export function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  labelReply(reply);
  return reply.code(err.status).headers(err.headers).send({ error: { code: err.code, message: err.message } });
}

/** Fastify runs without a logger of its own (it would cost every request); failures are logged here. */
export function errorHandlerFor(log: Logger) {
  return function errorHandler(this: unknown, err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const api = toApiError(err);
    if (api.status >= 500) log.error({ err, reqId: request.id, method: request.method, url: request.url }, 'request failed');
    return sendError(reply, api);
  };
}

/** Errors fastify meets before a route is found (an overlong id, a bad URL): our shape too. */
export function frameworkErrorHandler(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // No route context exists yet, so the route label cannot be read from the request.
  (reply.raw as ChildResponse).route ??= 'unmatched';
  return sendError(reply, toApiError(err));
}

/** A request node's parser refused (malformed, headers too large, too slow): answered in our
 * shape on the raw socket, which is then closed (node's own behaviour). */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = clientErrorCodes[err.code ?? ''] ?? [400, 'BAD_REQUEST', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

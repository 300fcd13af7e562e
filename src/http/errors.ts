import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.ts';
import { StoreError, type StoreErrorCode } from '../store/errors.ts';
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

// Fastify's own error codes mapped to ours, so every client-side mistake has one stable name.
const fastifyCodes: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'BODY_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_CONTENT_LENGTH'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_VALIDATION: [400, 'INVALID_REQUEST'],
};

// Store errors a client can act on (QUEUE_FULL is answered where the queue is, with the
// configured Retry-After); any other store error is a 500.
const storeCodes: Partial<Record<StoreErrorCode, [number, string, Record<string, string>]>> = {
  STORE_BUSY: [503, 'STORE_BUSY', { 'retry-after': '1' }],
  UNAVAILABLE: [503, 'UNAVAILABLE', { 'retry-after': '1' }],
  INVALID_ARGUMENT: [400, 'INVALID_REQUEST', {}],
};

export function toApiError(err: FastifyError | ApiError | Error): ApiError {
  if (err instanceof ApiError) return err;
  const store = err instanceof StoreError ? storeCodes[err.code] : undefined;
  if (store) return new ApiError(store[0], store[1], err.message, store[2]);
  const fe = err as FastifyError;
  if (fe.validation) return new ApiError(400, 'INVALID_REQUEST', fe.message);
  const mapped = fe.code ? fastifyCodes[fe.code] : undefined;
  if (mapped) return new ApiError(mapped[0], mapped[1], fe.message);
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

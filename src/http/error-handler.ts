import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type ErrorBody, HttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The error code this request was answered with, for metrics; null when it succeeded. */
    errorCode: string | null;
  }
}

/** Fastify's own client errors, given the codes of our error shape. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_ERR_NOT_FOUND: 'not_found',
};

export interface ErrorHandlerOptions {
  /** Reports an unexpected error (Sentry when configured). */
  report: (err: unknown, request: FastifyRequest) => void;
}

function toHttpError(err: FastifyError | HttpError): HttpError | null {
  if (err instanceof HttpError) return err;
  const status = err.statusCode ?? 500;
  if (status >= 500) return null;
  const code = FASTIFY_CODES[err.code] ?? (status === 404 ? 'not_found' : 'bad_request');
  let message = err.message;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = 'request body is larger than the limit';
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') message = 'content type must be application/json';
  return new HttpError(status, code, message);
}

/**
 * The one place errors become replies: typed errors keep their status, code and message; client errors from
 * Fastify get our codes; anything else is logged, reported and answered 500 without internals.
 */
async function errorHandler(app: FastifyInstance, options: ErrorHandlerOptions) {
  app.decorateRequest('errorCode', null);

  app.setErrorHandler((err: FastifyError | HttpError, request: FastifyRequest, reply: FastifyReply) => {
    const httpError = toHttpError(err);
    if (!httpError) {
      request.log.error({ err }, 'unhandled error');
      options.report(err, request);
      request.errorCode = 'internal_error';
      const body: ErrorBody = { error: { code: 'internal_error', message: 'internal server error' } };
      return reply.status(500).send(body);
    }
    if (httpError.statusCode >= 500) request.log.warn({ code: httpError.code }, httpError.message);
    else request.log.info({ code: httpError.code, status: httpError.statusCode }, httpError.message);
    request.errorCode = httpError.code;
    const body: ErrorBody = { error: { code: httpError.code, message: httpError.message } };
    return reply.status(httpError.statusCode).headers(httpError.headers).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    request.errorCode = 'not_found';
    const body: ErrorBody = { error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } };
    return reply.status(404).send(body);
  });
}

export default fp(errorHandler, { name: 'error-handler' });

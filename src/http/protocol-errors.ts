import type { Socket } from 'node:net';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from './errors.js';

/**
 * Errors raised before a route runs, answered in the one error shape like every other: a request Node's HTTP
 * parser refuses (`clientError`), a URL Fastify's router cannot take (`frameworkErrors`), and an `Expect`
 * header other than 100-continue (Node answers 417 with no body by default).
 */

const body = (code: string, message: string): string => JSON.stringify({ error: { code, message } } satisfies ErrorBody);

/** Fastify's `clientErrorHandler`: the parser refused the request, so only raw bytes can answer it. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'request headers are larger than the limit']
        : [400, 'malformed_request', 'the request is not valid HTTP/1.1'];
  const text = body(code, message);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}

/** Fastify's `frameworkErrors`: a URL that cannot be routed (bad percent-encoding, a parameter too long). */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  request.errorCode = err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'bad_url' : 'bad_request';
  const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : err.statusCode && err.statusCode < 500 ? err.statusCode : 400;
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is longer than the limit' : 'the URL is not valid';
  void reply.status(status).header('content-type', 'application/json').send(body(request.errorCode, message));
}

/** An `Expect` header other than `100-continue` is refused 417 in our shape rather than Node's empty one. */
export function answerUnmetExpectations(server: Server): void {
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const text = body('expectation_failed', `Expect: ${String(request.headers.expect).slice(0, 100)} is not supported (only 100-continue)`);
    response.writeHead(417, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
    response.end(text);
  });
}

/**
 * Typed errors that map onto the one JSON error shape `{"error":{"code","message"}}`. Anything thrown that is
 * not an HttpError is an internal error: logged and reported, answered as a bare 500.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const unauthorized = (code: string, message: string) => new HttpError(401, code, message);
export const badRequest = (code: string, message: string) => new HttpError(400, code, message);
export const notFound = (code: string, message: string) => new HttpError(404, code, message);
export const serviceUnavailable = (code: string, message: string, retryAfterSeconds?: number) =>
  new HttpError(
    503,
    code,
    message,
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  );

export interface ErrorBody {
  error: { code: string; message: string };
}

/** JSON schema of the error body, declared on every route's error replies. */
export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

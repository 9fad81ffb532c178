import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pino, type Logger, type LoggerOptions } from 'pino';

/** Headers and fields that carry credentials: never written to a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-signature"]',
  'req.headers["x-langfuse-signature"]',
  'req.headers["x-langwatch-signature"]',
  'req.headers["webhook-signature"]',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-signature"]',
  'headers["x-langfuse-signature"]',
  'headers["x-langwatch-signature"]',
  'headers["webhook-signature"]',
  '*.secret',
  '*.secrets',
  '*.password',
  '*.dsn',
];

export function createLogger(options: { level: string; role: string; version: string }, destination?: pino.DestinationStream): Logger {
  const config: LoggerOptions = {
    level: options.level,
    base: { service: 'vertigo-live', role: options.role, version: options.version },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(config, destination) : pino(config);
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Keeps a caller's X-Request-Id when it is sane, so a request can be followed across services. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

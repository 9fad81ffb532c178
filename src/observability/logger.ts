import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { LokiOptions } from 'pino-loki';

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

/** pino's level labels, used as they are for the Loki `level` label (the same values promtail extracts). */
const LEVEL_LABELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Seconds between two pushes to Loki, lines kept while Loki does not answer (oldest dropped), push timeout. */
export const LOKI_BATCH_INTERVAL_SECONDS = 1;
export const LOKI_MAX_BUFFERED_LINES = 10_000;
export const LOKI_PUSH_TIMEOUT_MS = 3_000;

export interface LoggerSettings {
  level: string;
  role: string;
  version: string;
  /** Also push every line to Loki (LOKI_URL); credentials may be given in the URL (https://user:token@host). */
  loki?: { url: string | undefined };
}

export function createLogger(options: LoggerSettings, destination?: pino.DestinationStream): Logger {
  const config: LoggerOptions = {
    level: options.level,
    base: { service: 'vertigo-live', role: options.role, version: options.version },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  const lokiUrl = options.loki?.url;
  if (!lokiUrl) return destination ? pino(config, destination) : pino(config);

  // Redaction and serialisation happen once, in this thread: both streams get the same (redacted) line.
  const stdout = destination ?? pino.destination({ dest: process.stdout.fd || 1, minLength: 0 });
  const loki = lokiStream(lokiUrl, options.role);
  const logger = pino(
    config,
    pino.multistream([
      { level: 'trace', stream: stdout },
      { level: 'trace', stream: loki.stream },
    ]),
  );
  loki.onFailure((err) => logger.warn({ err: err.message }, 'log shipping to Loki stopped; logs still go to stdout'));
  logger.info({ loki: describeLokiUrl(lokiUrl) }, 'shipping logs to Loki');
  return logger;
}

/** pino-loki's options: labels {service, role, level} only, JSON push API, batched, never in the way of the service. */
export function lokiTransportOptions(lokiUrl: string, role: string): LokiOptions {
  const url = new URL(lokiUrl);
  const basicAuth = url.username || url.password
    ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
    : undefined;
  url.username = '';
  url.password = '';
  // pino-loki resolves its endpoint (loki/api/v1/push) relative to the host: keep a path prefix if one is given.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return {
    host: url.toString(),
    ...(basicAuth ? { basicAuth } : {}),
    // `hostname: undefined` keeps a `hostname` field of a log line from becoming an (unbounded) label.
    labels: { service: 'vertigo-live', role, hostname: undefined as unknown as string },
    propsToLabels: [],
    levelMap: Object.fromEntries(LEVEL_LABELS.map((l) => [l, l])) as unknown as LokiOptions['levelMap'],
    structuredMetaKey: false,
    batching: { interval: LOKI_BATCH_INTERVAL_SECONDS, maxBufferSize: LOKI_MAX_BUFFERED_LINES },
    timeout: LOKI_PUSH_TIMEOUT_MS,
    // A Loki outage must not fill the service's stderr; the lines are simply not shipped (stdout keeps them).
    silenceErrors: true,
  };
}

/**
 * The pino-loki transport (in a worker thread, so pushing never blocks a request), behind a small stream that
 * converts the line's ISO `time` to epoch milliseconds — pino-loki reads the entry timestamp from a numeric
 * `time` — and that stops writing, instead of failing the service, if the worker ever dies.
 */
function lokiStream(lokiUrl: string, role: string): { stream: pino.DestinationStream & { flushSync(): void }; onFailure(fn: (err: Error) => void): void } {
  const transport = pino.transport<LokiOptions>({ target: 'pino-loki', options: lokiTransportOptions(lokiUrl, role) });
  let failed = false;
  let onFailure: (err: Error) => void = () => undefined;
  transport.on('error', (err: Error) => {
    if (failed) return;
    failed = true;
    onFailure(err);
  });
  return {
    stream: {
      write(line: string) {
        if (!failed) transport.write(epochTime(line));
      },
      flushSync() {
        if (failed) return;
        try {
          (transport as unknown as { flushSync(): void }).flushSync();
        } catch {
          // the worker is gone: nothing to flush
        }
      },
    },
    onFailure(fn) {
      onFailure = fn;
    },
  };
}

const TIME_FIELD = '"time":"';

/** `{"level":"info","time":"2026-01-01T00:00:00.000Z",...` -> `{"level":"info","time":1767225600000,...` */
export function epochTime(line: string): string {
  const start = line.indexOf(TIME_FIELD);
  if (start < 0 || start > 40) return line;
  const valueStart = start + TIME_FIELD.length;
  const valueEnd = line.indexOf('"', valueStart);
  const ms = Date.parse(line.slice(valueStart, valueEnd));
  if (Number.isNaN(ms)) return line;
  return `${line.slice(0, start)}"time":${ms}${line.slice(valueEnd + 1)}`;
}

/** The Loki URL without credentials, for a log line. */
function describeLokiUrl(lokiUrl: string): string {
  const url = new URL(lokiUrl);
  return `${url.protocol}//${url.host}${url.pathname}`;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Keeps a caller's X-Request-Id when it is sane, so a request can be followed across services. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

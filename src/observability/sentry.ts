import type { Config } from '../config/config.js';

/**
 * Error reporting to Sentry, active only when SENTRY_DSN is set. Returns the function that reports an
 * unexpected error (a no-op without a DSN) and the one that flushes pending events at shutdown.
 */
export interface ErrorReporter {
  report(err: unknown, context?: Record<string, unknown>): void;
  flush(timeoutMs: number): Promise<void>;
}

export async function createErrorReporter(config: Config): Promise<ErrorReporter> {
  if (!config.sentry.dsn) {
    return { report: () => undefined, flush: () => Promise.resolve() };
  }
  // Loaded only when used: the SDK adds ~40 MB to every process that imports it.
  const Sentry = await import('@sentry/node');
  const client = Sentry.init({
    dsn: config.sentry.dsn,
    environment: config.sentry.environment,
    release: `vertigo-live@${config.version}`,
    serverName: `vertigo-${config.role}`,
    // Errors only: no performance tracing.
    tracesSampleRate: 0,
    // Its Fastify integration would report every thrown error, 4xx included; our error handler reports the
    // unexpected ones itself, with the request id.
    integrations: (defaults) => defaults.filter((integration) => integration.name !== 'Fastify'),
  });
  return {
    report(err, context) {
      Sentry.withScope((scope) => {
        if (context) scope.setContext('vertigo', context);
        Sentry.captureException(err);
      });
    },
    async flush(timeoutMs) {
      await client?.flush(timeoutMs);
    },
  };
}

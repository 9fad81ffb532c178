import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import apiPlugin from './api/api.plugin.js';
import accessPlugin from './api/auth/access.plugin.js';
import type { Authenticator } from './api/auth/authenticator.js';
import { registerOpenApi, registerOpenApiUi } from './api/openapi.js';
import type { Registry } from 'prom-client';
import type { Config } from './config/config.js';
import type { HealthCheck } from './health/checks.js';
import healthRoutes from './health/health.routes.js';
import type { Lifecycle } from './health/lifecycle.js';
import errorHandler from './http/error-handler.js';
import { answerUnmetExpectations, clientErrorHandler, frameworkErrors } from './http/protocol-errors.js';
import webhookRoutes from './ingest/webhook.route.js';
import metricsRoute from './metrics/metrics.route.js';
import type { WebhookMetrics } from './metrics/webhook.metrics.js';
import { requestId } from './observability/logger.js';
import type { ErrorReporter } from './observability/sentry.js';
import type { PersistProducer } from './queue/persist.producer.js';
import type { FirestoreSync } from './sync/sync-service.js';

export interface AppDependencies {
  config: Config;
  logger: Logger;
  registry: Registry;
  lifecycle: Lifecycle;
  checks: HealthCheck[];
  reporter: ErrorReporter;
  /** Present in the api role: the webhook routes are registered only where events can be enqueued. */
  ingest?: {
    producer: Pick<PersistProducer, 'enqueue'>;
    metrics: WebhookMetrics;
    rateLimitRedis?: Redis;
  };
  /** The Firestore sync when enabled: the sync API reads and triggers it. */
  sync?: FirestoreSync;
  /** Who may call what (every role builds it: even the worker's routes must declare their access). */
  access: { authenticator: Authenticator; redis?: Redis };
  /** Job counts per queue and state, shown by /health/detailed. */
  queueCounts?: () => Promise<Record<string, Record<string, number>>>;
  /** Present in the api role: the live data API reads PostgreSQL. */
  api?: { pool: Pool };
}

/** Builds the HTTP app from its dependencies; it does not listen (server.ts does). */
export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: requestId,
    // Requests that arrive on open connections while the server closes are still served (app.close waits
    // for them) and answered with `Connection: close` below, rather than a bare 503 of Fastify's own shape.
    return503OnClosing: false,
    // Fastify takes a hop count too; its type declarations only lack it.
    trustProxy: deps.config.http.trustProxy as boolean | string[],
    clientErrorHandler,
    frameworkErrors,
    // A long unknown source is answered 404 unknown_source by the route, not 414 by the router.
    routerOptions: { maxParamLength: 16_384 },
  });
  answerUnmetExpectations(app.server);

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // A kept-alive connection would hold app.close() open until the keep-alive timeout: close it instead.
    if (deps.lifecycle.shuttingDown) reply.header('connection', 'close');
  });

  const { config } = deps;
  await app.register(errorHandler, { report: (err, request) => deps.reporter.report(err, { requestId: request.id, url: request.url }) });
  // Security headers on every reply; CORS only for the configured origins. Both come before the access plugin:
  // the CORS preflight route it adds carries no data and needs no credential.
  await app.register(helmet, { global: true });
  if (config.api.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.api.corsOrigins.includes('*') ? '*' : config.api.corsOrigins,
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'last-event-id'],
      exposedHeaders: ['x-request-id', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after'],
      maxAge: 600,
    });
  }
  await registerOpenApi(app, config.version);
  await app.register(accessPlugin, {
    authenticator: deps.access.authenticator,
    limits: config.api.rateLimit,
    ...(deps.access.redis ? { redis: deps.access.redis } : {}),
    redisNamespace: `${config.queuePrefix}:api-rate-limit:`,
  });
  await app.register(healthRoutes, {
    lifecycle: deps.lifecycle,
    checks: deps.checks,
    version: config.version,
    role: config.role,
    ...(deps.queueCounts ? { queueCounts: deps.queueCounts } : {}),
  });
  await app.register(metricsRoute, { registry: deps.registry });
  if (deps.ingest) await app.register(webhookRoutes, { config, ...deps.ingest });
  if (deps.ingest && deps.api) {
    await app.register(apiPlugin, {
      pool: deps.api.pool,
      producer: deps.ingest.producer,
      sync: deps.sync,
      defaultSyncHoursBack: config.firestoreSync.hoursBack,
    });
  }
  await registerOpenApiUi(app);
  return app;
}

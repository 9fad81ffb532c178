import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { Authenticator } from './api/auth/authenticator.js';
import { buildApp } from './app.js';
import { type Config, enabledSources, SOURCE_NAMES } from './config/config.js';
import { type HealthCheck, postgresCheck, redisCheck, workerCheck } from './health/checks.js';
import { Lifecycle } from './health/lifecycle.js';
import { registerDependencyCollector } from './metrics/dependency.collector.js';
import { LlmMetrics } from './metrics/llm.metrics.js';
import { PersistMetrics } from './metrics/persist.metrics.js';
import { registerQueueDepthCollector } from './metrics/queue-depth.collector.js';
import { createMetricsRegistry } from './metrics/registry.js';
import { WebhookMetrics } from './metrics/webhook.metrics.js';
import { createErrorReporter, type ErrorReporter } from './observability/sentry.js';
import { PersistProducer } from './queue/persist.producer.js';
import { createPersistWorker, type PersistWorker } from './queue/persist.worker.js';
import { type PersistJobData, QUEUE_NAMES } from './queue/queues.js';
import { checkEvictionPolicy, createRedis } from './queue/redis-connection.js';
import { migrate } from './store/migrate.js';
import { createPool, describeDatabaseUrl } from './store/postgres.js';
import type { FirestoreSync } from './sync/sync-service.js';

/**
 * The composition root: config -> clients -> app and workers, and the one place that knows the order in
 * which they start and stop. Nothing here is global, so a test can build as many runtimes as it likes.
 */
export interface Runtime {
  app: FastifyInstance;
  lifecycle: Lifecycle;
  pool: Pool;
  queue: Queue<PersistJobData>;
  /** The Firestore sync, when enabled. */
  sync: FirestoreSync | undefined;
  /** Listens and starts the workers. */
  start(): Promise<void>;
  /** Graceful stop; resolves false when it had to give up after SHUTDOWN_TIMEOUT_MS. */
  stop(): Promise<boolean>;
}

export interface RuntimeOptions {
  databaseUrl: string;
  redisUrl: string;
  /** For tests that need to force a failure; the real reporter is built from the config otherwise. */
  reporter?: ErrorReporter;
}

export async function createRuntime(config: Config, logger: Logger, options: RuntimeOptions): Promise<Runtime> {
  const lifecycle = new Lifecycle();
  const reporter = options.reporter ?? (await createErrorReporter(config));
  const runsApi = config.role !== 'worker';
  const runsWorker = config.role !== 'api';

  logger.info({ database: describeDatabaseUrl(options.databaseUrl), role: config.role }, 'starting');
  await migrate(options.databaseUrl, logger);
  lifecycle.migrated = true;
  const pool = createPool(options.databaseUrl, config.database.poolMax, logger, `vertigo-${config.role}`);

  const registry = createMetricsRegistry({ version: config.version, role: config.role });
  const redisClients: Redis[] = [];
  const producerRedis = createRedis(options.redisUrl, 'producer', logger);
  redisClients.push(producerRedis);
  const queue = new Queue<PersistJobData>(QUEUE_NAMES.persist, { connection: producerRedis, prefix: config.queuePrefix });
  queue.on('error', (err) => logger.warn({ err: err.message }, 'persist queue error'));
  registerQueueDepthCollector(registry, [queue]);

  const checks: HealthCheck[] = [postgresCheck(pool), redisCheck(producerRedis)];
  registerDependencyCollector(registry, [...checks]);

  let producer: PersistProducer | undefined;
  let ingest: Parameters<typeof buildApp>[0]['ingest'];
  // Rate-limit counters of the webhooks and the API, shared across replicas.
  let rateLimitRedis: Redis | undefined;
  if (runsApi) {
    producer = new PersistProducer(queue, config, logger);
    rateLimitRedis = createRedis(options.redisUrl, 'client', logger, 'vertigo-rate-limit', { enableAutoPipelining: true });
    redisClients.push(rateLimitRedis);
    ingest = {
      producer,
      metrics: new WebhookMetrics(registry),
      ...(config.webhooks.rateLimit.max > 0 ? { rateLimitRedis } : {}),
    };
    logSources(config, logger);
  }
  const authenticator = new Authenticator({
    pool,
    adminTokens: config.adminTokens,
    ...(config.jwt ? { jwt: config.jwt } : {}),
    onTouchError: (err) => logger.warn({ err: err.message }, 'cannot record the use of an API key'),
  });

  let persistWorker: PersistWorker | undefined;
  const persistMetrics = runsWorker ? new PersistMetrics(registry) : undefined;
  const llmMetrics = runsWorker ? new LlmMetrics(registry, config.metrics.maxModels) : undefined;
  if (runsWorker) {
    const workerRedis = createRedis(options.redisUrl, 'worker', logger);
    redisClients.push(workerRedis);
    persistWorker = createPersistWorker({
      config,
      connection: workerRedis,
      pool,
      logger,
      persistMetrics: persistMetrics!,
      llmMetrics: llmMetrics!,
      reporter,
    });
    checks.push(workerCheck(persistWorker.worker));
  }

  let sync: FirestoreSync | undefined;
  if (config.firestoreSync.enabled) {
    // Live changes take the webhooks' durable path: the persist queue.
    if (runsWorker) producer ??= new PersistProducer(queue, config, logger);
    const syncWorkerRedis = runsWorker ? createRedis(options.redisUrl, 'worker', logger, 'vertigo-sync-worker') : undefined;
    if (syncWorkerRedis) redisClients.push(syncWorkerRedis);
    const liveProducer = producer;
    // Loaded only when enabled: the Firestore client and its gRPC stack add ~35 MB to a process.
    const { FirestoreSync } = await import('./sync/sync-service.js');
    sync = new FirestoreSync({
      config,
      pool,
      logger: logger.child({ component: 'firestore-sync' }),
      registry,
      queueConnection: producerRedis,
      ...(syncWorkerRedis ? { workerConnection: syncWorkerRedis } : {}),
      ...(runsWorker && liveProducer ? { enqueue: (events) => liveProducer.enqueue(events) } : {}),
      ...(persistMetrics ? { persistMetrics } : {}),
      ...(llmMetrics ? { llmMetrics } : {}),
    });
    checks.push(sync.healthCheck());
  }

  const app = await buildApp({
    config,
    logger,
    registry,
    lifecycle,
    checks,
    reporter,
    access: { authenticator, ...(rateLimitRedis ? { redis: rateLimitRedis } : {}) },
    queueCounts: async () => ({ [QUEUE_NAMES.persist]: await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed') }),
    ...(ingest ? { ingest, api: { pool } } : {}),
    ...(sync ? { sync } : {}),
  });

  async function stopInOrder(): Promise<void> {
    lifecycle.shuttingDown = true;
    logger.info({ delayMs: config.shutdown.delayMs }, 'shutting down: readiness is now 503');
    if (config.shutdown.delayMs > 0) await sleep(config.shutdown.delayMs);
    await app.close(); // in-flight requests finish, and each waits for its enqueue
    await sync?.stop(); // listeners stop queueing; runs stop after their current page
    await producer?.drain();
    if (persistWorker) {
      await persistWorker.worker.close(); // active jobs finish: their batch is flushed and committed
      await persistWorker.drain();
    }
    await queue.close();
    await reporter.flush(2000);
    await Promise.all(redisClients.map((r) => r.quit().catch(() => r.disconnect())));
    await pool.end();
  }

  let stopping: Promise<boolean> | undefined;
  return {
    app,
    lifecycle,
    pool,
    queue,
    sync,
    async start() {
      // The producer fails fast when Redis is away; wait for it once so the first webhooks are not refused.
      await queue.waitUntilReady();
      await checkEvictionPolicy(producerRedis, logger);
      await app.listen({ host: config.http.host, port: config.http.port });
      if (persistWorker) {
        persistWorker.worker.run().catch((err: unknown) => logger.error({ err }, 'persist worker stopped'));
        await persistWorker.worker.waitUntilReady();
      }
      await sync?.start();
      lifecycle.started = true;
      logger.info({ host: config.http.host, port: config.http.port }, 'started');
    },
    stop() {
      stopping ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), config.shutdown.timeoutMs);
        });
        const done = stopInOrder().then(
          () => true,
          (err: unknown) => {
            logger.error({ err }, 'error while shutting down');
            return false;
          },
        );
        const clean = await Promise.race([done, timeout]);
        clearTimeout(timer);
        if (!clean) logger.error({ timeoutMs: config.shutdown.timeoutMs }, 'shutdown did not finish in time');
        else logger.info('stopped');
        return clean;
      })();
      return stopping;
    },
  };
}

function logSources(config: Config, logger: Logger): void {
  const enabled = enabledSources(config);
  const disabled = SOURCE_NAMES.filter((s) => !enabled.includes(s));
  if (config.webhooks.skipVerification) {
    logger.warn('WEBHOOK_SKIP_VERIFICATION=true: webhook signatures are NOT checked (development only)');
  }
  if (disabled.length > 0) {
    logger.warn({ disabled, enabled }, `webhook sources without a secret answer 503: ${disabled.join(', ')}`);
  } else {
    logger.info({ enabled }, 'webhook sources enabled');
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

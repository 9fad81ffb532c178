import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import type { Config } from '../config/config.js';
import type { IngestEvent } from '../ingest/ingest-event.js';
import type { LlmMetrics } from '../metrics/llm.metrics.js';
import type { PersistMetrics } from '../metrics/persist.metrics.js';
import type { ErrorReporter } from '../observability/sentry.js';
import { BatchWriter } from '../store/batch-writer.js';
import { markEventsFailed, persistEvents } from '../store/event-persister.js';
import { CAPPED_EXPONENTIAL, cappedExponentialDelay, type PersistJobData, QUEUE_NAMES } from './queues.js';

export interface PersistWorkerDependencies {
  config: Config;
  connection: Redis;
  pool: Pool;
  logger: Logger;
  persistMetrics: PersistMetrics;
  llmMetrics: LlmMetrics;
  reporter: ErrorReporter;
}

export interface PersistWorker {
  worker: Worker<PersistJobData>;
  /** Writes what is still buffered (shutdown, after the worker stopped taking jobs). */
  drain(): Promise<void>;
}

/**
 * The persist processor: each job hands its events to a shared BatchWriter, so jobs processed concurrently
 * are written in one transaction, and the job completes only when that transaction has committed. A job
 * interrupted at any point is retried (stalled-job recovery) and finds nothing or everything of its events.
 */
export function createPersistWorker(deps: PersistWorkerDependencies): PersistWorker {
  const { config, pool, logger, persistMetrics, llmMetrics, reporter } = deps;
  const { persist } = config;

  const writer = new BatchWriter<IngestEvent>(
    async (events) => {
      const stop = persistMetrics.batchDuration.startTimer();
      try {
        const outcome = await persistEvents(pool, events);
        stop({ result: 'ok' });
        persistMetrics.recordBatch(events, outcome);
        llmMetrics.recordCompleted(outcome.completed);
      } catch (err) {
        stop({ result: 'error' });
        throw err;
      }
    },
    {
      maxItems: persist.batchSize,
      maxWaitMs: persist.flushIntervalMs,
      maxParts: persist.concurrency,
      maxConcurrent: persist.maxConcurrentWrites,
    },
  );

  const worker = new Worker<PersistJobData>(
    QUEUE_NAMES.persist,
    async (job: Job<PersistJobData>) => {
      // Each delivery is a part of its own in the shared write: when the merged write fails, a delivery the
      // database refuses fails alone. The job completes only when all of its deliveries are stored; a retry
      // finds the stored ones already there (duplicates).
      const results = await Promise.allSettled(job.data.deliveries.map((events) => writer.write(events)));
      const failure = results.find((r) => r.status === 'rejected');
      if (failure) throw failure.reason;
    },
    {
      connection: deps.connection,
      prefix: config.queuePrefix,
      concurrency: persist.concurrency,
      lockDuration: persist.lockDurationMs,
      stalledInterval: persist.stalledIntervalMs,
      // A job whose worker died is retried; only one that kills workers again and again is given up.
      maxStalledCount: 5,
      autorun: false,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string) =>
          type === CAPPED_EXPONENTIAL ? cappedExponentialDelay(attemptsMade, persist.backoffMs, persist.maxBackoffMs) : 0,
      },
    },
  );

  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    persistMetrics.jobsFailed.inc({ queue: QUEUE_NAMES.persist, final: String(final) });
    const events = job.data.deliveries.flat();
    const context = { jobId: job.id, attemptsMade: job.attemptsMade, events: events.length };
    if (!final) {
      logger.warn({ ...context, err: err.message }, 'persist job failed; will retry');
      return;
    }
    logger.error({ ...context, err }, 'persist job failed for good; kept in the failed set');
    reporter.report(err, context);
    markEventsFailed(pool, events, err.message).then(
      (marked) => {
        for (const source of marked) persistMetrics.events.inc({ source, status: 'failed' });
      },
      (markErr: Error) => logger.warn({ err: markErr.message }, 'cannot mark failed events in webhook_events'),
    );
  });
  worker.on('error', (err) => logger.error({ err: err.message }, 'persist worker error'));

  return { worker, drain: () => writer.drain() };
}

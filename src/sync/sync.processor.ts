import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { QUEUE_NAMES, type SyncJobData } from '../queue/queues.js';
import { cappedExponentialDelay } from '../queue/queues.js';
import type { CollectionSync, SyncRunResult } from './collection-sync.js';

/** Backoff type of triggered sync jobs: a busy collection is asked again soon, a failing run less and less often. */
export const SYNC_BACKOFF = 'sync';
const MAX_FAILED_RUNS = 8;

/** A triggered run that finds its collection busy waits for the running one by retrying (see the job options). */
export class CollectionBusyError extends Error {
  constructor(collection: string) {
    super(`a sync of ${collection} is already running`);
    this.name = 'CollectionBusyError';
  }
}

export interface SyncProcessorOptions {
  connection: Redis;
  prefix: string;
  syncs: ReadonlyMap<string, CollectionSync>;
  logger: Logger;
  /** Aborted at shutdown: runs stop between pages, so closing the worker does not wait for whole runs. */
  signal: AbortSignal;
  /** Tells the owner when a run starts and ends (availability, the `running` gauge). */
  onRun: (collection: string, event: { running: boolean; result?: SyncRunResult; error?: unknown }) => void;
}

/** The processor of the `sync` queue: one job is one run of one collection. */
export function createSyncWorker(options: SyncProcessorOptions): Worker<SyncJobData, SyncRunResult> {
  const { syncs, logger, signal, onRun } = options;
  const worker = new Worker<SyncJobData, SyncRunResult>(
    QUEUE_NAMES.sync,
    async (job: Job<SyncJobData>) => {
      const { collection, mode, hoursBack, reason } = job.data;
      const sync = syncs.get(collection);
      if (!sync) {
        logger.warn({ collection, jobId: job.id }, 'sync job for a collection that is not mapped; dropped');
        throw new Error(`collection ${collection} is not in the sync mappings`);
      }
      onRun(collection, { running: true });
      try {
        const result = await sync.run({ mode, hoursBack, signal });
        onRun(collection, { running: false, result });
        if (result.status === 'busy') {
          if (reason !== 'schedule') throw new CollectionBusyError(collection);
          logger.debug({ collection }, 'scheduled sync skipped: a run is active');
        } else {
          logger.info({ collection, mode, reason, documents: result.documents, outcomes: result.outcomes, deleted: result.deleted, seconds: result.durationSeconds, status: result.status }, 'sync run finished');
        }
        return result;
      } catch (err) {
        if (err instanceof CollectionBusyError) throw err;
        onRun(collection, { running: false, error: err });
        // Waiting for a busy collection may take long; a run that keeps failing is given up after a few tries
        // (the next scheduled run tries again anyway).
        if (job.attemptsMade + 1 >= MAX_FAILED_RUNS) throw new UnrecoverableError((err as Error).message);
        throw err;
      }
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      // Collections sync in parallel; one collection never runs twice at once (advisory lock in the run).
      concurrency: Math.max(1, Math.min(syncs.size, 8)),
      autorun: false,
      lockDuration: 60_000,
      maxStalledCount: 3,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error) =>
          type !== SYNC_BACKOFF ? 0 : err instanceof CollectionBusyError ? 5_000 : cappedExponentialDelay(attemptsMade, 2_000, 300_000),
      },
    },
  );
  worker.on('failed', (job, err) => {
    if (!job || err instanceof CollectionBusyError) return;
    logger.warn({ collection: job.data.collection, jobId: job.id, attemptsMade: job.attemptsMade, err: err.message }, 'sync run failed');
  });
  worker.on('error', (err) => logger.error({ err: err.message }, 'sync worker error'));
  return worker;
}

import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { HealthCheck } from '../health/checks.js';
import type { IngestEvent } from '../ingest/ingest-event.js';
import type { LlmMetrics } from '../metrics/llm.metrics.js';
import type { PersistMetrics } from '../metrics/persist.metrics.js';
import { sharedRead } from '../metrics/scrape-once.js';
import { SyncMetrics } from '../metrics/sync.metrics.js';
import { QUEUE_NAMES, type SyncJobData } from '../queue/queues.js';
import { CollectionReader } from './collection-reader.js';
import { CollectionSync, SYNC_TYPE, type SyncRunResult } from './collection-sync.js';
import { FirestoreConnection, type FirestoreSource, resolveFirestore } from './firestore-client.js';
import { LiveListeners } from './live-listener.js';
import { type CollectionMapping, loadMappings } from './mapping.js';
import { errorReason, withRetry } from './retry.js';
import { createSyncWorker, SYNC_BACKOFF } from './sync.processor.js';
import { listStatuses, type SyncStatusRow } from './sync-status.repository.js';

export interface FirestoreSyncDependencies {
  config: Config;
  pool: Pool;
  logger: Logger;
  registry: Registry;
  /** Connection of the queue (triggers, schedulers): a producer-style connection that fails fast. */
  queueConnection: Redis;
  /** Present in processes that run syncs (worker roles): a blocking connection for the BullMQ worker. */
  workerConnection?: Redis;
  /** Where live changes go; present where syncs run. */
  enqueue?: (events: IngestEvent[]) => Promise<void>;
  persistMetrics?: PersistMetrics;
  llmMetrics?: LlmMetrics;
  /** For tests and tools: a client of their own rather than one built from the config. */
  firestore?: FirestoreSource;
}

export interface TriggerRequest {
  collection?: string | undefined;
  hoursBack: number;
  full: boolean;
}

type Availability = { status: 'ok' | 'unavailable' | 'unknown'; message?: string };

const FIRESTORE_REASONS = new Set(['unavailable', 'unauthenticated', 'permission_denied', 'quota_exceeded', 'deadline_exceeded']);

/**
 * The Firestore sync of one process: mappings and readers, the `sync` queue with a job scheduler per
 * collection, its worker and the live listeners (where syncs run), and what /health, /metrics and the API
 * read. Nothing in it stops webhook ingest: when Firestore cannot be reached it reports "unavailable".
 */
export class FirestoreSync {
  readonly mappings: CollectionMapping[];
  readonly queue: Queue<SyncJobData>;
  readonly syncs = new Map<string, CollectionSync>();
  private readonly firestore: FirestoreSource;
  private readonly connection: FirestoreConnection | undefined;
  private readonly worker: Worker<SyncJobData, SyncRunResult> | undefined;
  private readonly listeners: LiveListeners | undefined;
  private readonly readers: CollectionReader[];
  private readonly running = new Map<string, number>();
  private readonly abort = new AbortController();
  private availability: Availability = { status: 'unknown', message: 'no sync has run yet' };

  constructor(private readonly deps: FirestoreSyncDependencies) {
    const { config, pool, logger, registry } = deps;
    const sync = config.firestoreSync;
    this.mappings = loadMappings(sync.mappingsFile);
    this.connection = deps.firestore ? undefined : new FirestoreConnection(sync);
    this.firestore = deps.firestore ?? this.connection!.get;
    this.queue = new Queue<SyncJobData>(QUEUE_NAMES.sync, { connection: deps.queueConnection, prefix: config.queuePrefix });
    this.queue.on('error', (err) => logger.warn({ err: err.message }, 'sync queue error'));

    const collections = this.mappings.map((m) => m.collection);
    const stored = sharedRead(() => listStatuses(pool, SYNC_TYPE, collections));
    const metrics = new SyncMetrics(registry, {
      collections,
      local: () =>
        this.mappings.map((m) => ({ collection: m.collection, running: (this.running.get(m.collection) ?? 0) > 0, listenerUp: this.listeners?.isUp(m.collection) })),
      stored: async () => (await stored()).map((r) => ({ collection: r.collection, lastSuccessAt: r.last_success_at, caughtUpAt: r.caught_up_at })),
    });

    const readers = (this.readers = this.mappings.map((mapping) => {
      const reader = new CollectionReader(this.firestore, mapping, {
        ...sync.retry,
        onRetry: (err, reason, attempt, delayMs) => {
          metrics.errors.inc({ collection: mapping.collection, reason });
          logger.warn({ collection: mapping.collection, err: (err as Error).message, reason, attempt, delayMs }, 'firestore call failed; retrying');
        },
      });
      this.syncs.set(
        mapping.collection,
        new CollectionSync({
          pool,
          reader,
          batchSize: mapping.batchSize ?? sync.batchSize,
          logger: logger.child({ collection: mapping.collection }),
          metrics,
          ...(deps.persistMetrics ? { persistMetrics: deps.persistMetrics } : {}),
          ...(deps.llmMetrics ? { llmMetrics: deps.llmMetrics } : {}),
        }),
      );
      return reader;
    }));

    if (deps.workerConnection) {
      this.worker = createSyncWorker({
        connection: deps.workerConnection,
        prefix: config.queuePrefix,
        syncs: this.syncs,
        logger,
        signal: this.abort.signal,
        onRun: (collection, event) => this.onRun(collection, event),
      });
      const liveReaders = readers.filter((r) => sync.live && r.mapping.live);
      if (deps.enqueue && liveReaders.length > 0) {
        this.listeners = new LiveListeners({
          pool,
          firestore: this.firestore,
          readers: liveReaders,
          enqueue: deps.enqueue,
          metrics,
          logger,
          onGap: (collection) => void this.enqueue(collection, { mode: 'incremental', hoursBack: sync.hoursBack, reason: 'reconnect' }),
          onState: (_collection, up, err) => {
            if (up) this.availability = { status: 'ok' };
            else if (err) this.noteError(err);
          },
        });
      }
    }
  }

  /** Registers the job schedulers (one per collection, idempotent across processes) and starts work. */
  async start(): Promise<void> {
    const { config, logger } = this.deps;
    const sync = config.firestoreSync;
    if (this.worker) {
      for (const mapping of this.mappings) {
        const every = (mapping.intervalSeconds ?? sync.intervalSeconds) * 1000;
        await this.queue.upsertJobScheduler(
          schedulerId(mapping.collection),
          { every },
          { name: 'firestore-sync', data: { syncType: SYNC_TYPE, collection: mapping.collection, mode: 'incremental', hoursBack: sync.hoursBack, reason: 'schedule' }, opts: { removeOnComplete: 100, removeOnFail: 500 } },
        );
      }
      // Collections dropped from the mappings stop being scheduled.
      const configured = new Set(this.mappings.map((m) => schedulerId(m.collection)));
      for (const scheduler of await this.queue.getJobSchedulers()) {
        const id = scheduler.key;
        if (id.startsWith(`${SYNC_TYPE}:`) && !configured.has(id)) await this.queue.removeJobScheduler(id);
      }
      this.worker.run().catch((err: unknown) => logger.error({ err }, 'sync worker stopped'));
      await this.worker.waitUntilReady();
      this.listeners?.start();
    }
    logger.info({ collections: this.mappings.map((m) => m.collection), live: Boolean(this.listeners), runsHere: Boolean(this.worker) }, 'firestore sync enabled');
    void this.probe();
  }

  /** Stops listening and running (runs stop after their current page), then closes the clients. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.listeners?.stop();
    await this.worker?.close();
    await this.queue.close();
    // Calls abandoned by their timeout still run inside the client: let them end before terminating it.
    await Promise.all(this.readers.map((r) => r.idle(5_000)));
    await this.connection?.close();
  }

  /** Queues runs now: one collection or all. Returns the job ids. */
  async trigger(request: TriggerRequest): Promise<{ collection: string; jobId: string }[]> {
    const collections = request.collection ? [request.collection] : this.mappings.map((m) => m.collection);
    const jobs = [];
    for (const collection of collections) {
      const jobId = await this.enqueue(collection, { mode: request.full ? 'full' : 'incremental', hoursBack: request.hoursBack, reason: 'trigger' });
      jobs.push({ collection, jobId });
    }
    return jobs;
  }

  hasCollection(collection: string): boolean {
    return this.syncs.has(collection);
  }

  /** Every configured collection's status, with a row even before its first run. */
  statuses(): Promise<SyncStatusRow[]> {
    return listStatuses(this.deps.pool, SYNC_TYPE, this.mappings.map((m) => m.collection));
  }

  /** Not critical: readiness never depends on Firestore, so webhooks keep flowing when it is unreachable. */
  healthCheck(): HealthCheck {
    return {
      name: 'firestore-sync',
      critical: false,
      check: async () => {
        const a = this.availability;
        if (a.status === 'ok') return { status: 'ok' };
        if (a.status === 'unknown') return { status: 'degraded', message: a.message ?? 'unknown' };
        return { status: 'unavailable', message: a.message ?? 'unavailable' };
      },
    };
  }

  private async enqueue(collection: string, job: Pick<SyncJobData, 'mode' | 'hoursBack' | 'reason'>): Promise<string> {
    const added = await this.queue.add(
      'firestore-sync',
      { syncType: SYNC_TYPE, collection, ...job },
      {
        // A busy collection makes a triggered run wait for the active one (asked again every 5 s for about an
        // hour); a failing run is retried with capped exponential backoff.
        attempts: job.reason === 'schedule' ? 1 : 720,
        backoff: { type: SYNC_BACKOFF },
        removeOnComplete: 100,
        removeOnFail: 500,
        // Catch-up runs asked for while one is still waiting are one run.
        ...(job.reason === 'reconnect' ? { deduplication: { id: `reconnect:${collection}` } } : {}),
      },
    );
    return added.id!;
  }

  private onRun(collection: string, event: { running: boolean; result?: SyncRunResult; error?: unknown }): void {
    this.running.set(collection, Math.max(0, (this.running.get(collection) ?? 0) + (event.running ? 1 : -1)));
    if (event.result && event.result.status !== 'busy') this.availability = { status: 'ok' };
    if (event.error) this.noteError(event.error);
  }

  private noteError(err: unknown): void {
    const cause = (err as { cause?: unknown }).cause ?? err;
    const reason = errorReason(cause);
    if (FIRESTORE_REASONS.has(reason)) this.availability = { status: 'unavailable', message: `${reason}: ${(cause as Error).message ?? String(cause)}`.slice(0, 500) };
  }

  /** One cheap read at start, so /health tells at once whether Firestore (and its credentials) work. */
  private async probe(): Promise<void> {
    const first = this.mappings[0];
    if (!first) return;
    try {
      await withRetry(async () => (await resolveFirestore(this.firestore)).collection(first.collection).limit(1).get(), { attempts: 1, baseMs: 0, maxMs: 0, timeoutMs: 15_000 });
      if (this.availability.status === 'unknown') this.availability = { status: 'ok' };
    } catch (err) {
      this.noteError(err);
      if (this.availability.status !== 'unavailable') this.availability = { status: 'unavailable', message: (err as Error).message };
      this.deps.logger.warn({ err: (err as Error).message }, 'firestore sync: Firestore is not reachable; webhook ingest is unaffected');
    }
  }
}

const schedulerId = (collection: string) => `${SYNC_TYPE}:${collection}`;

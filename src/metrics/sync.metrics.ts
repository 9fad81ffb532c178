import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Why a document counted where it did (`vertigo_sync_documents_total{outcome}`). */
export const DOCUMENT_OUTCOMES = ['written', 'unchanged', 'superseded', 'deleted', 'malformed'] as const;
export type DocumentOutcome = (typeof DOCUMENT_OUTCOMES)[number];

/** Bounded reasons of `vertigo_sync_errors_total`, from the gRPC status of a Firestore error. */
export const SYNC_ERROR_REASONS = [
  'unavailable',
  'quota_exceeded',
  'deadline_exceeded',
  'unauthenticated',
  'permission_denied',
  'database',
  'queue',
  'other',
] as const;
export type SyncErrorReason = (typeof SYNC_ERROR_REASONS)[number];

export type SyncMode = 'incremental' | 'full';

/** What this process knows of one collection's sync, read at scrape time. */
export interface CollectionSyncState {
  collection: string;
  running: boolean;
  listenerUp: boolean | undefined;
}

/** What sync_status says of one collection, read at scrape time (every process reports the shared truth). */
export interface StoredSyncState {
  collection: string;
  lastSuccessAt: Date | null;
  caughtUpAt: Date | null;
}

export interface SyncMetricsSources {
  /** The configured collections: their counters start at 0, so the first increment shows in rate(). */
  collections: readonly string[];
  /** Collections this process syncs and whether a run or listener of it is active here. */
  local(): CollectionSyncState[];
  /** The stored progress of every configured collection. */
  stored(): Promise<StoredSyncState[]>;
}

/**
 * Metrics of the Firestore sync. Counters and the run histogram are incremented by the runs; the gauges are
 * filled at scrape time: `running` and `listener_up` from this process, success time and lag from
 * `sync_status`, so every replica reports the same values and `max by (collection)` is the answer.
 */
export class SyncMetrics {
  readonly documents: Counter<'collection' | 'outcome'>;
  readonly runs: Counter<'collection' | 'mode' | 'result'>;
  readonly runDuration: Histogram<'collection' | 'mode'>;
  readonly errors: Counter<'collection' | 'reason'>;
  readonly liveChanges: Counter<'collection' | 'change'>;

  constructor(registry: Registry, sources: SyncMetricsSources) {
    this.documents = new Counter({
      name: 'vertigo_sync_documents_total',
      help: 'Firestore documents read by sync runs, by collection and outcome (written, unchanged, superseded, deleted, malformed).',
      labelNames: ['collection', 'outcome'],
      registers: [registry],
    });
    this.runs = new Counter({
      name: 'vertigo_sync_runs_total',
      help: 'Finished sync runs, by collection, mode (incremental or full) and result (success or error).',
      labelNames: ['collection', 'mode', 'result'],
      registers: [registry],
    });
    this.runDuration = new Histogram({
      name: 'vertigo_sync_run_duration_seconds',
      help: 'Duration of one sync run, by collection and mode.',
      labelNames: ['collection', 'mode'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'vertigo_sync_errors_total',
      help: 'Errors of sync runs and live listeners, by collection and reason.',
      labelNames: ['collection', 'reason'],
      registers: [registry],
    });
    this.liveChanges = new Counter({
      name: 'vertigo_sync_live_changes_total',
      help: 'Document changes received by live snapshot listeners and queued, by collection and change (added, modified, removed).',
      labelNames: ['collection', 'change'],
      registers: [registry],
    });
    for (const collection of sources.collections) this.zero(collection);
    new Gauge({
      name: 'vertigo_sync_running',
      help: '1 while a sync run of the collection is active in this process, else 0.',
      labelNames: ['collection'],
      registers: [registry],
      collect() {
        for (const c of sources.local()) this.set({ collection: c.collection }, c.running ? 1 : 0);
      },
    });
    new Gauge({
      name: 'vertigo_sync_listener_up',
      help: '1 when this process holds a live snapshot listener on the collection and it is connected, else 0.',
      labelNames: ['collection'],
      registers: [registry],
      collect() {
        for (const c of sources.local()) if (c.listenerUp !== undefined) this.set({ collection: c.collection }, c.listenerUp ? 1 : 0);
      },
    });
    new Gauge({
      name: 'vertigo_sync_last_success_timestamp_seconds',
      help: 'Unix time at which the last successful sync run of the collection finished (0 if none), from sync_status.',
      labelNames: ['collection'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of await storedOrEmpty(sources)) this.set({ collection: s.collection }, s.lastSuccessAt ? s.lastSuccessAt.getTime() / 1000 : 0);
      },
    });
    new Gauge({
      name: 'vertigo_sync_lag_seconds',
      help: 'How far the synced copy trails Firestore: seconds since the start of the last run that read the collection to its end.',
      labelNames: ['collection'],
      registers: [registry],
      async collect() {
        this.reset();
        const now = Date.now();
        for (const s of await storedOrEmpty(sources)) if (s.caughtUpAt) this.set({ collection: s.collection }, Math.max(0, now - s.caughtUpAt.getTime()) / 1000);
      },
    });
  }

  private zero(collection: string): void {
    for (const outcome of DOCUMENT_OUTCOMES) this.documents.inc({ collection, outcome }, 0);
    for (const reason of SYNC_ERROR_REASONS) this.errors.inc({ collection, reason }, 0);
    for (const change of CHANGES) this.liveChanges.inc({ collection, change }, 0);
    for (const mode of ['incremental', 'full'] as const) {
      for (const result of ['success', 'error'] as const) this.runs.inc({ collection, mode, result }, 0);
    }
  }
}

const CHANGES = ['added', 'modified', 'removed'] as const;

/** A scrape must not fail because PostgreSQL is away: the stored gauges are then left out of that scrape. */
async function storedOrEmpty(sources: SyncMetricsSources): Promise<StoredSyncState[]> {
  try {
    return await sources.stored();
  } catch {
    return [];
  }
}

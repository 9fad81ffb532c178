import { Counter, Histogram, type Registry } from 'prom-client';
import type { IngestEvent } from '../ingest/ingest-event.js';
import type { PersistOutcome } from '../store/event-persister.js';

/** What the persist worker exports: batches, rows and the final status of every event. */
export class PersistMetrics {
  readonly batchSize: Histogram;
  readonly batchDuration: Histogram<'result'>;
  readonly rows: Counter<'table' | 'operation'>;
  readonly events: Counter<'source' | 'status'>;
  readonly jobsFailed: Counter<'queue' | 'final'>;
  readonly freshness: Histogram<'source'>;

  constructor(registry: Registry) {
    this.batchSize = new Histogram({
      name: 'vertigo_persist_batch_events',
      help: 'Events written per database transaction by the persist worker.',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    });
    this.batchDuration = new Histogram({
      name: 'vertigo_persist_batch_duration_seconds',
      help: 'Duration of one persist transaction, by result (ok or error).',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.rows = new Counter({
      name: 'vertigo_persist_rows_total',
      help: 'Rows written to PostgreSQL by the persist worker, by table and operation.',
      labelNames: ['table', 'operation'],
      registers: [registry],
    });
    this.events = new Counter({
      name: 'vertigo_persist_events_total',
      help: 'Events stored, by source and final status (processed, duplicate, ignored, failed).',
      labelNames: ['source', 'status'],
      registers: [registry],
    });
    this.freshness = new Histogram({
      name: 'vertigo_ingest_freshness_seconds',
      help: 'Time from accepting an event (202) to its transaction committing in PostgreSQL, by source.',
      labelNames: ['source'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    });
    this.jobsFailed = new Counter({
      name: 'vertigo_queue_job_failures_total',
      help: 'Failed job attempts; final="true" when the job has no attempts left and moved to the failed set.',
      labelNames: ['queue', 'final'],
      registers: [registry],
    });
  }

  /** Counts one committed batch: its size, how fresh its events were, their statuses and the rows written. */
  recordBatch(events: readonly IngestEvent[], outcome: PersistOutcome, committedAt = Date.now()): void {
    for (const e of events) this.freshness.observe({ source: e.source }, Math.max(0, committedAt - Date.parse(e.receivedAt)) / 1000);
    this.batchSize.observe(events.length);
    for (const e of outcome.events) this.events.inc({ source: e.source, status: e.status });
    this.rows.inc({ table: 'webhook_events', operation: 'insert' }, outcome.rows.eventsInserted);
    this.rows.inc({ table: 'live_traces', operation: 'upsert' }, outcome.rows.tracesWritten);
    this.rows.inc({ table: 'live_traces', operation: 'delete' }, outcome.rows.tracesDeleted);
  }
}

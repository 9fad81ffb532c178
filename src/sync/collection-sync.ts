import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { IngestEvent } from '../ingest/ingest-event.js';
import type { LlmMetrics } from '../metrics/llm.metrics.js';
import type { PersistMetrics } from '../metrics/persist.metrics.js';
import { DOCUMENT_OUTCOMES, type DocumentOutcome, type SyncMetrics, type SyncMode } from '../metrics/sync.metrics.js';
import { persistEvents } from '../store/event-persister.js';
import type { CollectionReader, SyncDocument } from './collection-reader.js';
import type { Cursor } from './cursor.js';
import { deletionEvent, documentEvent, documentOutcomes } from './document-events.js';
import { FirestoreCallError } from './retry.js';
import {
  advanceCursor,
  CursorMovedError,
  markRunFinished,
  markRunStarted,
  readCursor,
  releaseRunLock,
  tryRunLock,
} from './sync-status.repository.js';

export const SYNC_TYPE = 'firestore';

export interface SyncRunOptions {
  mode: SyncMode;
  /** Incremental: how far back the first run of a collection starts. Full: the window re-read and reconciled. */
  hoursBack: number;
  /** Told after every committed page (the command line's progress display). */
  onProgress?: (progress: SyncProgress) => void;
  /** Stops the run between pages (shutdown); what was committed stays, and the next run resumes from it. */
  signal?: AbortSignal;
}

export interface SyncProgress {
  documents: number;
  cursor: Cursor;
  elapsedMs: number;
}

export interface SyncRunResult {
  status: 'done' | 'stopped' | 'busy';
  mode: SyncMode;
  documents: number;
  outcomes: Record<DocumentOutcome, number>;
  /** Traces deleted because their documents are gone (full sync). */
  deleted: number;
  cursor: Cursor | null;
  durationSeconds: number;
}

export interface CollectionSyncDependencies {
  pool: Pool;
  reader: CollectionReader;
  batchSize: number;
  logger: Logger;
  metrics?: SyncMetrics;
  persistMetrics?: PersistMetrics;
  llmMetrics?: LlmMetrics;
}

/**
 * One sync run of one collection, incremental or full. Pages are read in (cursor, document id) order and each
 * is written in one transaction together with the cursor that follows it, so a run killed anywhere resumes
 * exactly after the last committed page. A page never ends inside a group of documents sharing one cursor
 * value: the group is read whole (`==` query) and committed in chunks, its position kept by document id.
 * At most one run per collection at a time, across processes (a PostgreSQL advisory lock).
 */
export class CollectionSync {
  constructor(private readonly deps: CollectionSyncDependencies) {}

  get collection(): string {
    return this.deps.reader.mapping.collection;
  }

  async run(options: SyncRunOptions): Promise<SyncRunResult> {
    const { pool, metrics, logger } = this.deps;
    const started = performance.now();
    const result: SyncRunResult = {
      status: 'done',
      mode: options.mode,
      documents: 0,
      outcomes: Object.fromEntries(DOCUMENT_OUTCOMES.map((o) => [o, 0])) as Record<DocumentOutcome, number>,
      deleted: 0,
      cursor: null,
      durationSeconds: 0,
    };
    const lockClient = await pool.connect();
    let locked = false;
    try {
      locked = await tryRunLock(lockClient, SYNC_TYPE, this.collection);
      if (!locked) return { ...result, status: 'busy' };
      await markRunStarted(pool, SYNC_TYPE, this.collection, options.mode);
      try {
        const caughtUpAt = options.mode === 'full' ? await this.full(options, result, started) : await this.incremental(options, result, started);
        if (caughtUpAt === null) result.status = 'stopped';
        await markRunFinished(pool, SYNC_TYPE, this.collection, { ok: true, caughtUpAt, malformed: result.outcomes.malformed });
        metrics?.runs.inc({ collection: this.collection, mode: options.mode, result: 'success' });
      } catch (err) {
        const reason = err instanceof FirestoreCallError ? err.reason : err instanceof CursorMovedError ? 'other' : 'database';
        metrics?.errors.inc({ collection: this.collection, reason });
        metrics?.runs.inc({ collection: this.collection, mode: options.mode, result: 'error' });
        await markRunFinished(pool, SYNC_TYPE, this.collection, { ok: false, error: (err as Error).message, malformed: result.outcomes.malformed }).catch(
          (markErr: Error) => logger.warn({ err: markErr.message }, 'cannot record the sync error in sync_status'),
        );
        throw err;
      }
    } finally {
      result.durationSeconds = (performance.now() - started) / 1000;
      if (result.status !== 'busy') metrics?.runDuration.observe({ collection: this.collection, mode: options.mode }, result.durationSeconds);
      let broken = false;
      if (locked) await releaseRunLock(lockClient, SYNC_TYPE, this.collection).catch(() => (broken = true));
      // A connection whose unlock failed may still hold the lock: destroy it rather than pool it.
      lockClient.release(broken);
    }
    return result;
  }

  /** Reads from the stored cursor to the end; returns when the collection was caught up, or null if stopped. */
  private async incremental(options: SyncRunOptions, result: SyncRunResult, started: number): Promise<Date | null> {
    const { pool, reader } = this.deps;
    let persisted = await readCursor(pool, SYNC_TYPE, this.collection);
    const initial: Cursor = { value: reader.codec.fromDate(new Date(Date.now() - options.hoursBack * 3600_000)), documentId: '' };
    const commit = async (docs: SyncDocument[], to: Cursor) => {
      const from = persisted;
      await this.write(docs.map((d) => documentEvent(reader.mapping, reader.codec, d, new Date().toISOString())), result, (client) =>
        advanceCursor(client, SYNC_TYPE, this.collection, from, to, docs.length),
      );
      persisted = to;
      result.cursor = to;
      options.onProgress?.({ documents: result.documents, cursor: to, elapsedMs: performance.now() - started });
    };
    return this.walk(persisted ?? initial, commit, options, () => persisted);
  }

  /** Re-reads the window and deletes the traces whose documents are gone; the stored cursor is left alone. */
  private async full(options: SyncRunOptions, result: SyncRunResult, started: number): Promise<Date | null> {
    const { reader } = this.deps;
    const windowStart = new Date(Date.now() - options.hoursBack * 3600_000);
    const readStartedAt = new Date();
    const seen = new Set<string>();
    const commit = async (docs: SyncDocument[], to: Cursor) => {
      for (const d of docs) seen.add(d.id);
      await this.write(docs.map((d) => documentEvent(reader.mapping, reader.codec, d, new Date().toISOString())), result, (client) =>
        client.query('UPDATE sync_status SET records_last_run = records_last_run + $3, records_total = records_total + $3 WHERE sync_type = $1 AND collection = $2', [
          SYNC_TYPE,
          this.collection,
          docs.length,
        ]).then(() => undefined),
      );
      result.cursor = to;
      options.onProgress?.({ documents: result.documents, cursor: to, elapsedMs: performance.now() - started });
    };
    const caughtUpAt = await this.walk({ value: reader.codec.fromDate(windowStart), documentId: '' }, commit, options, () => result.cursor);
    if (caughtUpAt === null) return null; // an incomplete read proves nothing about deletions
    await this.deleteMissing(seen, windowStart, readStartedAt, result);
    return caughtUpAt;
  }

  /**
   * The cursor walk shared by both modes. `commit` writes documents and moves the position; a position that
   * moved without documents (a group of ties found empty) is committed with the next page, or at the end.
   */
  private async walk(
    start: Cursor,
    commit: (docs: SyncDocument[], to: Cursor) => Promise<void>,
    options: SyncRunOptions,
    committed: () => Cursor | null,
  ): Promise<Date | null> {
    const { reader, batchSize } = this.deps;
    const codec = reader.codec;
    let position = start;
    // The next page is read while the previous one is written: the two waits overlap instead of adding up.
    let prefetched: { at: Date; page: Promise<SyncDocument[]> } | undefined;
    for (;;) {
      if (options.signal?.aborted) return null;
      if (position.documentId !== null) {
        const after = position.documentId;
        const ties = (await reader.at(position.value)).filter((d) => d.id > after);
        for (let i = 0; i < ties.length; i += batchSize) {
          const chunk = ties.slice(i, i + batchSize);
          const last = i + batchSize >= ties.length;
          await commit(chunk, { value: position.value, documentId: last ? null : chunk.at(-1)!.id });
          if (!last && options.signal?.aborted) return null;
        }
        position = { value: position.value, documentId: null };
      }
      const queriedAt = prefetched?.at ?? new Date();
      const page = await (prefetched?.page ?? reader.after(position.value, batchSize));
      prefetched = undefined;
      if (page.length < batchSize) {
        const end: Cursor = page.length > 0 ? { value: page.at(-1)!.cursor, documentId: null } : position;
        const saved = committed();
        if (page.length > 0 || saved?.value !== end.value || saved?.documentId !== end.documentId) await commit(page, end);
        return queriedAt;
      }
      const boundary = page.at(-1)!.cursor;
      const before = page.filter((d) => codec.compare(d.cursor, boundary) < 0);
      if (before.length === 0) {
        // The whole page shares one cursor value: read that group whole.
        position = { value: boundary, documentId: '' };
        continue;
      }
      position = { value: before.at(-1)!.cursor, documentId: null };
      prefetched = { at: new Date(), page: reader.after(position.value, batchSize) };
      prefetched.page.catch(() => undefined); // unused when the commit fails: its error must not go unhandled
      await commit(before, position);
    }
  }

  private async deleteMissing(seen: Set<string>, windowStart: Date, readStartedAt: Date, result: SyncRunResult): Promise<void> {
    const { pool, reader, batchSize } = this.deps;
    const { rows } = await pool.query<{ external_id: string; document: string }>(
      `SELECT external_id, metadata->'firestore'->>'document' AS document
         FROM live_traces
        WHERE source = $1 AND metadata ? 'firestore' AND metadata->'firestore'->>'collection' = $2
          AND updated_at > $3 AND updated_at <= $4`,
      [reader.mapping.source, this.collection, windowStart, readStartedAt],
    );
    const gone = rows.filter((r) => r.document !== null && !seen.has(r.document));
    for (let i = 0; i < gone.length; i += batchSize) {
      const events = gone.slice(i, i + batchSize).map((r) => deletionEvent(reader.mapping, r.document, r.external_id, readStartedAt));
      const outcome = await this.write(events, result);
      result.deleted += outcome.rows.tracesDeleted;
    }
    if (gone.length > 0) this.deps.logger.info({ collection: this.collection, deleted: result.deleted }, 'full sync deleted traces whose documents are gone');
  }

  private async write(events: IngestEvent[], result: SyncRunResult, withinTransaction?: Parameters<typeof persistEvents>[2]) {
    const { pool, metrics, persistMetrics, llmMetrics } = this.deps;
    const outcome = await persistEvents(pool, events, withinTransaction);
    persistMetrics?.recordBatch(events, outcome);
    llmMetrics?.recordCompleted(outcome.completed);
    for (const o of documentOutcomes(events, outcome)) {
      result.outcomes[o]++;
      metrics?.documents.inc({ collection: this.collection, outcome: o });
    }
    result.documents += events.filter((e) => e.action.kind !== 'delete').length;
    return outcome;
  }
}

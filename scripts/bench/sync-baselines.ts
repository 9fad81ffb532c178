import type { Timestamp } from '@google-cloud/firestore';
import type pg from 'pg';
import type { SyncDocument } from '../../src/sync/collection-reader.js';
import { documentEvent } from '../../src/sync/document-events.js';
import type { CountingReader } from './sync-phase.js';
import { docId, traceDocument } from './sync-seed.js';

/**
 * The two baselines the sync is compared with, measured in the same run:
 *  - read-only: the sync's own queries (CollectionReader.after / .at, `where(updatedAt > c).orderBy(updatedAt)
 *    .limit(batch)`, a group of ties read whole with `==`) in the same sequence as CollectionSync's walk, writing
 *    nothing: the ceiling the emulator allows;
 *  - insert-only: the same documents (rebuilt from the seed plan) mapped as the sync maps them, inserted one page per statement
 *    (`INSERT … SELECT FROM jsonb_to_recordset`, the shape the persister uses) into a scratch table shaped like
 *    live_traces without its indexes, no conflict handling, no webhook_events: the ceiling PostgreSQL allows
 *    (pg-copy-streams is not installed, so no COPY).
 */

/**
 * Reads every document from `start` on exactly as CollectionSync.walk does (the same queries, in the same
 * order, including the tie query at the initial cursor), writing nothing and keeping only the ids (a heap
 * holding every document would slow the emulator's garbage collection, and so this baseline, unfairly).
 */
export async function readAll(reader: CountingReader, start: string, batchSize: number): Promise<{ documents: number; distinct: number }> {
  const codec = reader.codec;
  const ids = new Set<string>();
  let documents = 0;
  const docs = {
    push(d: SyncDocument) {
      documents++;
      ids.add(d.id);
    },
  };
  // The sync's first position is { value: start, documentId: '' }: the group at `start` is read first.
  let position = { value: start, readTies: true };
  for (;;) {
    if (position.readTies) {
      for (const d of await reader.at(position.value)) docs.push(d);
      position = { value: position.value, readTies: false };
    }
    const page = await reader.after(position.value, batchSize);
    if (page.length < batchSize) {
      for (const d of page) docs.push(d);
      return { documents, distinct: ids.size };
    }
    const boundary = page.at(-1)!.cursor;
    const before = page.filter((d) => codec.compare(d.cursor, boundary) < 0);
    if (before.length === 0) {
      position = { value: boundary, readTies: true };
      continue;
    }
    for (const d of before) docs.push(d);
    position = { value: before.at(-1)!.cursor, readTies: false };
  }
}

const COLUMNS = [
  ['source', 'text'],
  ['external_id', 'text'],
  ['name', 'text'],
  ['model', 'text'],
  ['provider', 'text'],
  ['status', 'text'],
  ['latency_ms', 'double precision'],
  ['input_tokens', 'bigint'],
  ['output_tokens', 'bigint'],
  ['cost_usd', 'numeric'],
  ['user_id', 'text'],
  ['session_id', 'text'],
  ['started_at', 'timestamptz'],
  ['ended_at', 'timestamptz'],
  ['metadata', 'jsonb'],
  ['updated_at', 'timestamptz'],
  ['last_event_id', 'text'],
] as const;
type Column = (typeof COLUMNS)[number][0];
export type InsertRow = Partial<Record<Column, unknown>>;

export const INSERT_TABLE = 'bench_insert_only';

/**
 * The rows the sync would store: each seeded document (as the reader decodes it: Timestamps, cursor text, a
 * version) through documentEvent (mapping, event id, payload), as the sync does.
 */
export function mapRows(reader: CountingReader, times: readonly Timestamp[]): { rows: InsertRow[]; malformed: number } {
  const rows: InsertRow[] = [];
  let malformed = 0;
  const receivedAt = new Date().toISOString();
  const version = `${Math.floor(Date.now() / 1000)}.000000000`;
  for (let i = 0; i < times.length; i++) {
    const data = traceDocument(i, times[i]!);
    const doc: SyncDocument = { id: docId(i), cursor: reader.codec.fromDocument(times[i])!, data, version };
    const event = documentEvent(reader.mapping, reader.codec, doc, receivedAt);
    if (event.action.kind !== 'upsert') {
      malformed++;
      continue;
    }
    const { metadata, ...fields } = event.action.trace;
    rows.push({ ...fields, source: event.source, metadata: metadata ?? {}, updated_at: event.eventAt, last_event_id: event.deliveryId });
  }
  return { rows, malformed };
}

export async function createInsertTable(pool: pg.Pool): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${INSERT_TABLE}`);
  await pool.query(`CREATE TABLE ${INSERT_TABLE} (LIKE live_traces INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)`);
}

const INSERT_SQL = `INSERT INTO ${INSERT_TABLE} (${COLUMNS.map(([c]) => c).join(', ')})
SELECT ${COLUMNS.map(([c]) => (c === 'status' ? "coalesce(status, 'running')" : c === 'metadata' ? "coalesce(metadata, '{}'::jsonb)" : c)).join(', ')}
FROM jsonb_to_recordset($1::jsonb) AS r(${COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')})`;

/** Inserts the rows one page (one statement, its own transaction) at a time; returns the rows inserted. */
export async function insertAll(pool: pg.Pool, rows: readonly InsertRow[], batchSize: number): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < rows.length; i += batchSize) {
    const result = await pool.query(INSERT_SQL, [JSON.stringify(rows.slice(i, i + batchSize))]);
    inserted += result.rowCount ?? 0;
  }
  return inserted;
}

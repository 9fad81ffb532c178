import type { Pool, PoolClient } from 'pg';
import type { Cursor } from './cursor.js';

/**
 * `sync_status`: one row per (sync type, collection). The cursor is written by `advanceCursor` inside the
 * transaction that stores the rows it covers, as a compare-and-set on the previous cursor, so two runs that
 * somehow overlap cannot both advance it. Whether a run is active is not stored: it is whether the run's
 * advisory lock is held (`pg_locks`), which a crashed process releases with its connection.
 */

/** Namespace (first key) of the advisory locks of sync runs and of live-listener leadership. */
export const RUN_LOCK_NAMESPACE = 0x56_4c_01; // 'VL' 1
export const LISTENER_LOCK_NAMESPACE = 0x56_4c_02;

export interface SyncStatusRow {
  sync_type: string;
  collection: string;
  cursor_value: string | null;
  cursor_document_id: string | null;
  running: boolean;
  last_started_at: Date | null;
  last_success_at: Date | null;
  last_error: string | null;
  last_error_at: Date | null;
  records_last_run: number;
  records_total: number;
  malformed_last_run: number;
  last_run_mode: string | null;
  caught_up_at: Date | null;
}

export const lockKey = (syncType: string, collection: string) => `${syncType}:${collection}`;

/** Takes the run lock of a collection on `client` (a connection held for the whole run); false when taken. */
export async function tryRunLock(client: PoolClient, syncType: string, collection: string, namespace = RUN_LOCK_NAMESPACE): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [namespace, lockKey(syncType, collection)]);
  return rows[0]!.locked;
}

export async function releaseRunLock(client: PoolClient, syncType: string, collection: string, namespace = RUN_LOCK_NAMESPACE): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [namespace, lockKey(syncType, collection)]);
}

export async function readCursor(pool: Pool, syncType: string, collection: string): Promise<Cursor | null> {
  const { rows } = await pool.query<{ cursor_value: string | null; cursor_document_id: string | null }>(
    'SELECT cursor_value, cursor_document_id FROM sync_status WHERE sync_type = $1 AND collection = $2',
    [syncType, collection],
  );
  const row = rows[0];
  return row?.cursor_value == null ? null : { value: row.cursor_value, documentId: row.cursor_document_id };
}

export class CursorMovedError extends Error {
  constructor(collection: string) {
    super(`the cursor of ${collection} was moved by another run; this run stops`);
    this.name = 'CursorMovedError';
  }
}

/** Moves the cursor from `from` to `to` inside the caller's transaction; throws when it is no longer at `from`. */
export async function advanceCursor(client: PoolClient, syncType: string, collection: string, from: Cursor | null, to: Cursor, records: number): Promise<void> {
  const result = await client.query(
    `UPDATE sync_status
        SET cursor_value = $3, cursor_document_id = $4, records_total = records_total + $5,
            records_last_run = records_last_run + $5, updated_at = now()
      WHERE sync_type = $1 AND collection = $2
        AND cursor_value IS NOT DISTINCT FROM $6 AND cursor_document_id IS NOT DISTINCT FROM $7`,
    [syncType, collection, to.value, to.documentId, records, from?.value ?? null, from?.documentId ?? null],
  );
  if (result.rowCount !== 1) throw new CursorMovedError(collection);
}

/** Marks a run as started, creating the collection's row on its first run. */
export async function markRunStarted(pool: Pool, syncType: string, collection: string, mode: string): Promise<Date> {
  const { rows } = await pool.query<{ last_started_at: Date }>(
    `INSERT INTO sync_status AS s (sync_type, collection, last_started_at, last_run_mode) VALUES ($1, $2, now(), $3)
     ON CONFLICT (sync_type, collection) DO UPDATE
       SET last_started_at = now(), records_last_run = 0, malformed_last_run = 0, last_run_mode = $3, updated_at = now()
     RETURNING s.last_started_at`,
    [syncType, collection, mode],
  );
  return rows[0]!.last_started_at;
}

export async function markRunFinished(
  pool: Pool,
  syncType: string,
  collection: string,
  outcome: { ok: true; caughtUpAt: Date | null; malformed: number } | { ok: false; error: string; malformed: number },
): Promise<void> {
  if (outcome.ok) {
    await pool.query(
      // GREATEST ignores NULLs: a stopped run (no catch-up time) keeps the previous one.
      `UPDATE sync_status SET last_success_at = now(), malformed_last_run = $4, caught_up_at = GREATEST(caught_up_at, $3),
              updated_at = now()
        WHERE sync_type = $1 AND collection = $2`,
      [syncType, collection, outcome.caughtUpAt, outcome.malformed],
    );
  } else {
    await pool.query(
      `UPDATE sync_status SET last_error = $3, last_error_at = now(), malformed_last_run = $4, updated_at = now()
        WHERE sync_type = $1 AND collection = $2`,
      [syncType, collection, outcome.error.slice(0, 2000), outcome.malformed],
    );
  }
}

/**
 * The status of each given collection (all zero before its first run); `running` is whether some process holds
 * the collection's run lock now.
 */
export async function listStatuses(pool: Pool, syncType: string, collections: readonly string[]): Promise<SyncStatusRow[]> {
  const { rows } = await pool.query<SyncStatusRow>(
    `SELECT $1::text AS sync_type, c.collection, s.cursor_value, s.cursor_document_id, s.last_started_at, s.last_success_at,
            s.last_error, s.last_error_at, COALESCE(s.records_last_run, 0) AS records_last_run,
            COALESCE(s.records_total, 0) AS records_total, COALESCE(s.malformed_last_run, 0) AS malformed_last_run,
            s.last_run_mode, s.caught_up_at,
            EXISTS (
              SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND l.classid = $2::bigint::oid AND l.objsubid = 2
                 AND l.objid = ((hashtext($1 || ':' || c.collection)::bigint + 4294967296) % 4294967296)::oid
            ) AS running
       FROM unnest($3::text[]) WITH ORDINALITY AS c(collection, position)
       LEFT JOIN sync_status s ON s.sync_type = $1 AND s.collection = c.collection
      ORDER BY c.position`,
    [syncType, RUN_LOCK_NAMESPACE, collections],
  );
  return rows;
}

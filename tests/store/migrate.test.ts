import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/store/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

const logger = pino({ level: 'silent' });
const tables = async () =>
  (await db.pool.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'pgmigrations' ORDER BY 1")).rows.map((r) => r.tablename);

describe('migrations', () => {
  it('create the whole schema, are idempotent, and can be rolled back', async () => {
    expect(await migrate(db.url, logger)).toEqual(['1732200000000_initial-schema', '1732300000000_firestore-sync', '1732400000000_api-keys']);
    expect(await tables()).toEqual([
      'alert_events', 'alert_rules', 'api_keys', 'live_data_config', 'live_trace_tombstones', 'live_traces',
      'performance_metrics', 'sync_status', 'webhook_events',
    ]);
    expect(await migrate(db.url, logger)).toEqual([]);
    const { rows } = await db.pool.query("SELECT indexname FROM pg_indexes WHERE tablename = 'live_traces' ORDER BY 1");
    expect(rows.map((r) => r.indexname)).toEqual(expect.arrayContaining([
      'live_traces_source_external_id_key', 'live_traces_source_received_at_idx', 'live_traces_model_received_at_idx', 'live_traces_status_received_at_idx',
      'live_traces_firestore_document_idx', 'live_traces_received_at_id_idx',
    ]));
    expect(rows.map((r) => r.indexname)).not.toContain('live_traces_received_at_idx');
    const columns = await db.pool.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'sync_status' ORDER BY 1");
    expect(columns.rows.map((r) => r.column_name)).toEqual(expect.arrayContaining(['caught_up_at', 'cursor_value', 'cursor_document_id', 'last_run_mode', 'malformed_last_run']));
    // Down runs newest first: the sync columns go before the tables they belong to.
    expect(await migrate(db.url, logger, { direction: 'down' })).toEqual(['1732400000000_api-keys']);
    expect(await tables()).toHaveLength(8);
    expect(await migrate(db.url, logger, { direction: 'down' })).toEqual(['1732300000000_firestore-sync']);
    expect(await tables()).toHaveLength(8);
    expect(await migrate(db.url, logger, { direction: 'down' })).toEqual(['1732200000000_initial-schema']);
    expect(await tables()).toEqual([]);
    expect(await migrate(db.url, logger)).toHaveLength(3);
  });

  it('let several processes start together (advisory lock)', async () => {
    const results = await Promise.all([migrate(db.url, logger), migrate(db.url, logger), migrate(db.url, logger)]);
    expect(results.flat()).toEqual([]);
  });
});

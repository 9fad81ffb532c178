import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { processCpuMicros } from './children.js';

/**
 * The persist baseline: the rows the worker just wrote (live_traces and webhook_events, every column but the
 * generated id), read out with `COPY ... TO STDOUT` into memory, then timed as a raw `COPY ... FROM STDIN` into
 * scratch tables shaped like the real ones (`LIKE ... INCLUDING ALL`: same columns, defaults, checks, identity
 * and indexes), one stream per table, one after the other on one connection. What it leaves out is what the
 * worker does on top: reading jobs from Redis, idempotency (ON CONFLICT), newest-wins, statuses, metrics.
 */

const TABLES = ['live_traces', 'webhook_events'] as const;

export interface CopyRecord {
  rows: Record<(typeof TABLES)[number], number>;
  bytes: number;
  /** Wall time of the COPY FROM streams (both tables). */
  seconds: number;
  perTableSeconds: Record<(typeof TABLES)[number], number>;
  /** Events (one row in each table) per second. */
  rowsPerSecond: number;
  /** CPU of the PostgreSQL backend during the COPY FROM streams, per event (when /proc shows it). */
  postgresCpuMicrosPerRow?: number;
}

async function columnsOf(client: pg.Client, table: string): Promise<string[]> {
  const result = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'NO' ORDER BY ordinal_position`,
    [table],
  );
  return result.rows.map((r) => `"${r.column_name}"`);
}

async function copyOut(client: pg.Client, sql: string): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of client.query(copyTo(sql))) chunks.push(chunk as Buffer);
  return chunks;
}

/** CHECKPOINT (superuser), so that neither side pays for the other's dirty pages; false when not allowed. */
export async function checkpoint(client: pg.Client | pg.Pool): Promise<boolean> {
  try {
    await client.query('CHECKPOINT');
    return true;
  } catch {
    return false;
  }
}

export async function copyBaseline(databaseUrl: string): Promise<CopyRecord> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'vertigo-bench-copy' });
  await client.connect();
  try {
    const data = new Map<string, { columns: string[]; chunks: Buffer[] }>();
    let bytes = 0;
    for (const table of TABLES) {
      const columns = await columnsOf(client, table);
      const chunks = await copyOut(client, `COPY (SELECT ${columns.join(', ')} FROM ${table}) TO STDOUT (FORMAT binary)`);
      bytes += chunks.reduce((sum, c) => sum + c.length, 0);
      data.set(table, { columns, chunks });
      await client.query(`DROP TABLE IF EXISTS bench_copy_${table}`);
      await client.query(`CREATE TABLE bench_copy_${table} (LIKE ${table} INCLUDING ALL)`);
    }
    await checkpoint(client); // as before the worker's drain
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const perTableSeconds = { live_traces: 0, webhook_events: 0 };
    const cpuBefore = processCpuMicros(backend);
    const started = performance.now();
    for (const table of TABLES) {
      const { columns, chunks } = data.get(table)!;
      const t0 = performance.now();
      await pipeline(Readable.from(chunks), client.query(copyFrom(`COPY bench_copy_${table} (${columns.join(', ')}) FROM STDIN (FORMAT binary)`)));
      perTableSeconds[table] = (performance.now() - t0) / 1000;
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = processCpuMicros(backend);
    const rows = { live_traces: 0, webhook_events: 0 };
    for (const table of TABLES) {
      rows[table] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM bench_copy_${table}`)).rows[0]!.n);
      await client.query(`DROP TABLE bench_copy_${table}`);
    }
    const events = Math.min(rows.live_traces, rows.webhook_events);
    return {
      rows,
      bytes,
      seconds,
      perTableSeconds,
      rowsPerSecond: seconds > 0 ? events / seconds : 0,
      ...(cpuBefore !== undefined && cpuAfter !== undefined && events > 0 ? { postgresCpuMicrosPerRow: (cpuAfter - cpuBefore) / events } : {}),
    };
  } finally {
    await client.end();
  }
}

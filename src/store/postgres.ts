import pg from 'pg';
import type { Logger } from 'pino';

// int8 and numeric columns (counts, token sums, costs) come back as strings by default; they fit in a double
// for our uses. Set per pool rather than on pg's global type table.
const NUMBER_TYPES = new Set<number>([pg.types.builtins.INT8, pg.types.builtins.NUMERIC]);
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    NUMBER_TYPES.has(oid) ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export function createPool(url: string, max: number, logger: Logger, applicationName = 'vertigo-live'): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types: pgTypes,
    application_name: applicationName,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
    // A statement stuck behind a lock or a dead connection must fail so the job is retried.
    statement_timeout: 60000,
    query_timeout: 65000,
  });
  // An idle client losing its connection emits here; without a listener the process would crash.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'postgres idle client error'));
  // A checked-out client (a transaction, a held advisory lock) has no pool listener: when PostgreSQL ends its
  // session (a restart, a failover), its 'error' event would crash the process. Its query fails instead, and
  // the job is retried.
  pool.on('connect', (client) => {
    client.on('error', (err) => logger.warn({ err: err.message }, 'postgres connection lost'));
  });
  return pool;
}

/** Host and database of a connection URL, for logs: never the password. */
export function describeDatabaseUrl(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}${u.pathname}`;
}

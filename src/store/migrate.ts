import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { Logger } from 'pino';

/** Versioned SQL migrations (`-- Up Migration` / `-- Down Migration` in each file), run by node-pg-migrate. */

// The same relative path from src/store (tsx) and dist/store (compiled): the .sql files stay in src.
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../src/store/migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrateOptions {
  direction?: 'up' | 'down';
  /** How many migrations to run; all pending ones going up, one going down. */
  count?: number;
}

/**
 * Applies pending migrations (idempotent: applied ones are skipped). Several processes starting together
 * wait for one another on node-pg-migrate's advisory lock.
 */
export async function migrate(databaseUrl: string, logger: Logger, options: MigrateOptions = {}): Promise<string[]> {
  const direction = options.direction ?? 'up';
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      migrationsTable: MIGRATIONS_TABLE,
      direction,
      count: options.count ?? (direction === 'up' ? Infinity : 1),
      checkOrder: true,
      advisoryLockMode: 'wait',
      logger: {
        debug: () => undefined,
        info: (msg: string) => logger.debug({ migrations: true }, msg),
        warn: (msg: string) => logger.warn({ migrations: true }, msg),
        error: (msg: string) => logger.error({ migrations: true }, msg),
      },
    });
    const names = applied.map((m) => m.name);
    if (names.length > 0) logger.info({ migrations: names, direction }, 'database migrations applied');
    return names;
  } finally {
    await client.end();
  }
}

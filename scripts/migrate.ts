import { pino } from 'pino';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { startLocalPostgres } from '../src/dev/local-postgres.js';
import { migrate } from '../src/store/migrate.js';

/**
 * `npm run migrate` applies pending migrations; `npm run migrate -- down [N]` rolls back the last N (1).
 * Uses DATABASE_URL, or the embedded development PostgreSQL when it is not set, like the service.
 */
async function main(): Promise<void> {
  const [direction = 'up', count] = process.argv.slice(2);
  if (direction !== 'up' && direction !== 'down') throw new Error(`usage: npm run migrate -- [up|down] [count]`);
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  const local = config.database.url ? undefined : await startLocalPostgres(config.dataDir, logger);
  try {
    const applied = await migrate(config.database.url ?? local!.url, logger, {
      direction,
      ...(count ? { count: Number(count) } : {}),
    });
    process.stdout.write(applied.length ? `${direction}: ${applied.join(', ')}\n` : 'nothing to migrate\n');
  } finally {
    await local?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`migrate: ${err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

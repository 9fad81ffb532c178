import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config/config.js';
import { resolveServices } from './dev/local-defaults.js';
import { RedisNotInstalledError } from './dev/local-redis.js';
import { createLogger } from './observability/logger.js';
import { createRuntime } from './runtime.js';
import { loadMappings, MappingError } from './sync/mapping.js';

/** The only file that listens: reads the config, starts the runtime, and stops it on SIGTERM/SIGINT. */

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, version);
    // The sync mappings are configuration too: a wrong file stops the start, before anything connects.
    if (config.firestoreSync.enabled) loadMappings(config.firestoreSync.mappingsFile);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof MappingError) {
      const prefix = err instanceof MappingError ? 'FIRESTORE_SYNC_MAPPINGS_FILE: ' : '';
      process.stderr.write(`vertigo-live: invalid configuration: ${prefix}${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, role: config.role, version, loki: config.loki });

  let services;
  try {
    services = await resolveServices(config, logger);
  } catch (err) {
    if (err instanceof RedisNotInstalledError) {
      logger.fatal(err.message);
      process.exit(1);
    }
    throw err;
  }
  const runtime = await createRuntime(config, logger, { databaseUrl: services.databaseUrl, redisUrl: services.redisUrl });

  let exiting = false;
  const shutdown = async (signal: string) => {
    if (exiting) return;
    exiting = true;
    logger.info({ signal }, 'signal received');
    const clean = await runtime.stop();
    await services.stop();
    process.exit(clean ? 0 : 1);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));

  await runtime.start();
}

main().catch((err: unknown) => {
  process.stderr.write(`vertigo-live: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});

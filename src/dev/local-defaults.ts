import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { type LocalService, startLocalPostgres } from './local-postgres.js';
import { startLocalRedis } from './local-redis.js';

export interface ResolvedServices {
  databaseUrl: string;
  redisUrl: string;
  /** Stops the servers this process started (none when both URLs were given). */
  stop(): Promise<void>;
}

/** Fills in DATABASE_URL and REDIS_URL with local development servers where they are not set. */
export async function resolveServices(config: Config, logger: Logger): Promise<ResolvedServices> {
  const started: LocalService[] = [];
  try {
    let databaseUrl = config.database.url;
    if (!databaseUrl) {
      const postgres = await startLocalPostgres(config.dataDir, logger);
      started.push(postgres);
      databaseUrl = postgres.url;
    }
    let redisUrl = config.redis.url;
    if (!redisUrl) {
      const redis = await startLocalRedis(config.dataDir, logger);
      started.push(redis);
      redisUrl = redis.url;
    }
    return { databaseUrl, redisUrl, stop: () => stopAll(started) };
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

async function stopAll(services: LocalService[]): Promise<void> {
  for (const service of services.reverse()) await service.stop().catch(() => undefined);
}

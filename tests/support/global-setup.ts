import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../src/config/config.js';
import { resolveServices } from '../../src/dev/local-defaults.js';

/**
 * Finds the PostgreSQL and Redis the tests run against, in this order: DATABASE_URL / REDIS_URL from the
 * environment; containers from testcontainers when a Docker engine answers; the local services on
 * 127.0.0.1 (postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379); and when those do not
 * answer either, the service's own development defaults (embedded PostgreSQL, redis-server from the PATH)
 * in .data/test.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
  }
}

const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function postgresAnswers(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function redisAnswers(url: string): Promise<string | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    redis.disconnect();
  }
}

export default async function setup(project: TestProject) {
  const stops: (() => Promise<unknown>)[] = [];
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  if ((!databaseUrl || !redisUrl) && dockerAnswers()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    if (!databaseUrl) {
      const container = await new GenericContainer('postgres:16-alpine')
        .withEnvironment({ POSTGRES_PASSWORD: 'postgres', POSTGRES_DB: 'test' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      stops.push(() => container.stop());
      databaseUrl = `postgres://postgres:postgres@${container.getHost()}:${container.getMappedPort(5432)}/test`;
    }
    if (!redisUrl) {
      const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
      stops.push(() => container.stop());
      redisUrl = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    }
  }
  const explicit = { database: Boolean(databaseUrl), redis: Boolean(redisUrl) };
  databaseUrl ??= LOCAL_DATABASE_URL;
  redisUrl ??= LOCAL_REDIS_URL;

  const postgresError = await postgresAnswers(databaseUrl);
  const redisError = await redisAnswers(redisUrl);
  if (postgresError && explicit.database) throw new Error(`tests need PostgreSQL at ${databaseUrl}: ${postgresError}`);
  if (redisError && explicit.redis) throw new Error(`tests need Redis at ${redisUrl}: ${redisError}`);
  if (postgresError || redisError) {
    const logger = pino({ level: 'warn' });
    const config = loadConfig({
      DATA_DIR: '.data/test',
      ...(postgresError ? {} : { DATABASE_URL: databaseUrl }),
      ...(redisError ? {} : { REDIS_URL: redisUrl }),
    });
    logger.warn({ postgresError, redisError }, 'local services do not answer: using the development defaults');
    const services = await resolveServices(config, logger);
    stops.push(() => services.stop());
    databaseUrl = services.databaseUrl;
    redisUrl = services.redisUrl;
  }

  project.provide('databaseUrl', databaseUrl);
  project.provide('redisUrl', redisUrl);
  return async () => {
    for (const stop of stops) await stop();
  };
}

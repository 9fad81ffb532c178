import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';

/**
 * Finds the PostgreSQL and Redis the tests run against, in this order: DATABASE_URL / REDIS_URL from the
 * environment; containers from testcontainers when a Docker engine answers; the local services on
 * 127.0.0.1 (postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379).
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
  databaseUrl ??= LOCAL_DATABASE_URL;
  redisUrl ??= LOCAL_REDIS_URL;

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect().catch((err: Error) => {
    throw new Error(`tests need PostgreSQL at ${databaseUrl} (set DATABASE_URL): ${err.message}`);
  });
  await client.end();
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  await redis.connect().catch((err: Error) => {
    throw new Error(`tests need Redis at ${redisUrl} (set REDIS_URL): ${err.message}`);
  });
  redis.disconnect();

  project.provide('databaseUrl', databaseUrl);
  project.provide('redisUrl', redisUrl);
  return async () => {
    for (const stop of stops) await stop();
  };
}

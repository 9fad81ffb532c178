import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Redis connections as BullMQ's production guide asks: workers block and must wait out outages
 * (`maxRetriesPerRequest: null`), while producers fail fast (`enableOfflineQueue: false`) so that a webhook is
 * answered 503 at once instead of being held in memory while Redis is gone.
 */
export type RedisRole = 'producer' | 'worker' | 'client';

/** Options on top of the role's: e.g. auto-pipelining for a client that sends one small command per request. */
export type ExtraRedisOptions = Pick<RedisOptions, 'enableAutoPipelining'>;

export function createRedis(url: string, role: RedisRole, logger: Logger, name = `vertigo-${role}`, extra: ExtraRedisOptions = {}): Redis {
  const options: RedisOptions = {
    connectionName: name,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    ...(role === 'worker'
      ? { maxRetriesPerRequest: null, enableOfflineQueue: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 }),
    ...extra,
  };
  const redis = new Redis(url, options);
  let lastError = '';
  // Without an error listener ioredis logs every failed reconnect as an unhandled error event.
  redis.on('error', (err: Error) => {
    if (err.message !== lastError) logger.warn({ redis: name, err: err.message }, 'redis connection error');
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError) logger.info({ redis: name }, 'redis connection restored');
    lastError = '';
  });
  return redis;
}

/** BullMQ loses jobs silently when Redis evicts keys: warn unless the policy is `noeviction`. */
export async function checkEvictionPolicy(redis: Redis, logger: Logger): Promise<void> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      logger.warn({ policy }, 'redis maxmemory-policy is not noeviction: queued events may be evicted and lost');
    }
    const aof = (await redis.config('GET', 'appendonly')) as string[];
    if (aof[1] !== 'yes') {
      logger.warn('redis has appendonly=no: events acknowledged but not yet persisted are lost if redis restarts');
    }
  } catch (err) {
    // Managed Redis often forbids CONFIG; the check is advice, not a requirement.
    logger.debug({ err: (err as Error).message }, 'cannot read redis configuration');
  }
}

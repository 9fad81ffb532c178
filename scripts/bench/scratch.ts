import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { QUEUE_NAMES } from '../../src/queue/queues.js';

/**
 * The benchmark's scratch state: a database created for the run (dropped afterwards) and a queue prefix of its
 * own in Redis (obliterated afterwards, with any key left under the prefix deleted).
 */

export function databaseUrlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

export async function createDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${quoteIdent(database)}`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export const PENDING_STATES = ['wait', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export interface QueueCounts {
  pending: number;
  failed: number;
  byState: Record<string, number>;
}

export class ScratchQueue {
  readonly redis: Redis;
  readonly queue: Queue;

  constructor(
    redisUrl: string,
    readonly prefix: string,
  ) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
    this.redis.on('error', () => undefined); // reported by the commands that fail
    this.queue = new Queue(QUEUE_NAMES.persist, { connection: this.redis, prefix });
  }

  async counts(): Promise<QueueCounts> {
    const byState = await this.queue.getJobCounts(...PENDING_STATES, 'failed', 'completed');
    const pending = PENDING_STATES.reduce((sum, state) => sum + (byState[state] ?? 0), 0);
    return { pending, failed: byState.failed ?? 0, byState };
  }

  /** The PID of the Redis server when it runs on this machine and /proc shows it, else undefined. */
  async serverPid(): Promise<number | undefined> {
    const info = await this.redis.info('server');
    const match = /^process_id:(\d+)/m.exec(info);
    return match ? Number(match[1]) : undefined;
  }

  /** Removes the queue and every key left under the prefix; returns how many stray keys were deleted. */
  async obliterate(): Promise<number> {
    await this.queue.obliterate({ force: true });
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await this.redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

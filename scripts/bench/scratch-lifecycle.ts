import pg from 'pg';
import { processName, stopAllChildren } from './children.js';
import { say } from './output.js';
import { createDatabase, databaseUrlFor, dropDatabase, ScratchQueue } from './scratch.js';
import { databaseName, queuePrefix, settings } from './settings.js';

/**
 * The run's scratch state from creation to cleanup: what has been created is remembered here, so that
 * `cleanup` (run once, on success, failure or signal) stops every child and removes exactly that.
 */

let databaseCreated = false;
let scratchQueue: ScratchQueue | undefined;
let pool: pg.Pool | undefined;
let cleaningUp: Promise<void> | undefined;

export interface Scratch {
  databaseUrl: string;
  queue: ScratchQueue;
  /** The Redis server's PID when it runs on this machine (its CPU time is then measured too). */
  redisPid: number | undefined;
}

/** Creates the scratch database `vertigo_bench_<runId>` and the queue under the run's own prefix. */
export async function createScratch(): Promise<Scratch> {
  await createDatabase(settings.adminDatabaseUrl, databaseName);
  databaseCreated = true;
  const databaseUrl = databaseUrlFor(settings.adminDatabaseUrl, databaseName);
  scratchQueue = new ScratchQueue(settings.redisUrl, queuePrefix);
  const queue = scratchQueue;
  const redisPidCandidate = await queue.serverPid();
  const redisPid = redisPidCandidate !== undefined && processName(redisPidCandidate)?.includes('redis') ? redisPidCandidate : undefined;
  say(`scratch: database ${databaseName}, queue prefix ${queuePrefix}${redisPid ? `, redis-server pid ${redisPid}` : ''}`);
  return { databaseUrl, queue, redisPid };
}

/** The benchmark's own connections to the scratch database (open it once the service has run the migrations). */
export function openPool(databaseUrl: string): pg.Pool {
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'vertigo-bench' });
  return pool;
}

export function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    await stopAllChildren();
    await pool?.end().catch(() => undefined);
    if (scratchQueue) {
      try {
        const stray = await scratchQueue.obliterate();
        say(`cleanup: queue "${queuePrefix}" obliterated${stray > 0 ? ` (${stray} stray keys deleted)` : ''}`);
      } catch (err) {
        say(`cleanup: cannot obliterate queue "${queuePrefix}": ${(err as Error).message}`);
      }
      await scratchQueue.close();
    }
    if (databaseCreated) {
      try {
        await dropDatabase(settings.adminDatabaseUrl, databaseName);
        say(`cleanup: database ${databaseName} dropped`);
      } catch (err) {
        say(`cleanup: cannot drop database ${databaseName}: ${(err as Error).message}`);
      }
    }
  })();
  return cleaningUp;
}

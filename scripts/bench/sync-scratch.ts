import { rmSync } from 'node:fs';
import { deleteKeys } from '../../tests/support/redis-keys.js';
import { stopAllChildren } from './children.js';
import { say } from './output.js';
import { createDatabase, databaseUrlFor, dropDatabase } from './scratch.js';
import { databaseName, queuePrefix, syncSettings } from './sync-settings.js';

/**
 * The sync benchmark's scratch state from creation to cleanup. Everything created is registered here, so that
 * `cleanupSync` (run once, on success, failure or signal) stops the in-process service and emulators, closes
 * the pools, drops the scratch database `vertigo_bench_sync_<runId>`, deletes every Redis key under the run's
 * queue prefix, and removes the temporary mappings directory.
 */

type Closer = { name: string; close: () => Promise<unknown> };

/** Closed in reverse order of registration (the service before the emulator it reads, pools before the drop). */
const closers: Closer[] = [];
let databaseCreated = false;
let redisUsed = false;
const tempDirs: string[] = [];
let cleaningUp: Promise<void> | undefined;

/** Registers something to close at cleanup; returns a function that closes it now (once: cleanup then skips it). */
export function onCleanup(name: string, close: () => Promise<unknown>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const once = () => (closing ??= close().then(() => undefined));
  closers.push({ name, close: once });
  return once;
}

export async function createScratchDatabase(): Promise<string> {
  await createDatabase(syncSettings.adminDatabaseUrl, databaseName);
  databaseCreated = true;
  return databaseUrlFor(syncSettings.adminDatabaseUrl, databaseName);
}

/** Called before anything writes under the queue prefix: the keys are deleted at the end. */
export function usesRedis(): void {
  redisUsed = true;
}

export function removeAtEnd(dir: string): void {
  tempDirs.push(dir);
}

export function cleanupSync(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer.close();
      } catch (err) {
        say(`cleanup: cannot close ${closer.name}: ${(err as Error).message}`);
      }
    }
    await stopAllChildren(5000); // an emulator child whose stop was never reached
    if (redisUsed) {
      try {
        await deleteKeys(syncSettings.redisUrl, queuePrefix);
        say(`cleanup: Redis keys under "${queuePrefix}:" deleted`);
      } catch (err) {
        say(`cleanup: cannot delete the Redis keys under "${queuePrefix}:": ${(err as Error).message}`);
      }
    }
    if (databaseCreated) {
      try {
        await dropDatabase(syncSettings.adminDatabaseUrl, databaseName);
        say(`cleanup: database ${databaseName} dropped`);
      } catch (err) {
        say(`cleanup: cannot drop database ${databaseName}: ${(err as Error).message}`);
      }
    }
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  })();
  return cleaningUp;
}

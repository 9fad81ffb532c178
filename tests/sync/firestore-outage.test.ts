import { Timestamp } from '@google-cloud/firestore';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { SyncErrorReason } from '../../src/metrics/sync.metrics.js';
import { migrate } from '../../src/store/migrate.js';
import { CollectionReader } from '../../src/sync/collection-reader.js';
import { CollectionSync } from '../../src/sync/collection-sync.js';
import { DEFAULT_MAPPINGS } from '../../src/sync/default-mappings.js';
import { createFirestore } from '../../src/sync/firestore-client.js';
import { parseMappings } from '../../src/sync/mapping.js';
import { startFirestoreEmulator, type FirestoreEmulator } from '../support/firestore-emulator.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * Firestore unreachable in the middle of a run, on the wire: the sync's client talks to the emulator through a
 * TCP proxy that the test cuts. The run backs off and retries, and completes when Firestore is back; when it
 * does not come back, the run fails with the reason and keeps what it had committed.
 */

const logger = pino({ level: 'silent' });
let emulator: FirestoreEmulator;
let proxy: TcpProxy;
let db: TestDatabase;

beforeAll(async () => {
  emulator = await startFirestoreEmulator();
  const [host, port] = emulator.host.split(':');
  proxy = await startTcpProxy(host!, Number(port));
  db = await createTestDatabase();
  await migrate(db.url, logger);
});
afterAll(async () => {
  await proxy?.close();
  await emulator?.stop();
  await db?.drop();
});

async function seed(collection: string, count: number) {
  const client = emulator.client();
  const now = Date.now();
  for (let i = 0; i < count; i += 200) {
    const batch = client.batch();
    for (let j = i; j < Math.min(count, i + 200); j++) {
      batch.set(client.collection(collection).doc(`d-${String(j).padStart(4, '0')}`), {
        traceId: `${collection}-${j}`, model: 'gpt-4o-mini', status: 'completed', latencyMs: 10, updatedAt: Timestamp.fromMillis(now - 3600_000 + j * 1000),
      });
    }
    await batch.commit();
  }
}

function syncThroughProxy(collection: string, attempts: number, retries: SyncErrorReason[]) {
  const config = loadConfig({ FIRESTORE_EMULATOR_HOST: `${proxy.host}:${proxy.port}`, GOOGLE_CLOUD_PROJECT: emulator.projectId });
  const firestore = createFirestore(config.firestoreSync);
  const mapping = { ...parseMappings(DEFAULT_MAPPINGS)[0]!, collection };
  const reader = new CollectionReader(firestore, mapping, {
    attempts, baseMs: 200, maxMs: 1000, timeoutMs: 2000,
    onRetry: (_err, reason) => retries.push(reason),
  });
  const close = async () => {
    await reader.idle(30_000); // queries our timeout gave up on still run inside the client
    await firestore.terminate();
  };
  return { sync: new CollectionSync({ pool: db.pool, reader, batchSize: 100, logger }), close };
}

const rows = async (collection: string) =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM live_traces WHERE metadata->'firestore'->>'collection' = $1`, [collection])).rows[0]!.n;

describe('Firestore unreachable during a run', () => {
  it('backs off, retries, and completes once Firestore answers again', async () => {
    await seed('outage_a', 600);
    const retries: SyncErrorReason[] = [];
    const { sync, close } = syncThroughProxy('outage_a', 10, retries);
    await proxy.pause();
    const run = sync.run({ mode: 'incremental', hoursBack: 24 });
    await new Promise((r) => setTimeout(r, 1500));
    await proxy.resume();
    const result = await run;
    await close();
    expect(result).toMatchObject({ status: 'done', documents: 600 });
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.every((r) => r === 'unavailable' || r === 'deadline_exceeded')).toBe(true);
    expect(await rows('outage_a')).toBe(600);
  });

  it('fails with the reason when Firestore stays away, keeping what it committed', async () => {
    await seed('outage_b', 300);
    const retries: SyncErrorReason[] = [];
    const { sync, close } = syncThroughProxy('outage_b', 3, retries);
    await proxy.pause();
    try {
      await expect(sync.run({ mode: 'incremental', hoursBack: 24 })).rejects.toMatchObject({ name: 'FirestoreCallError' });
    } finally {
      await proxy.resume();
      await close();
    }
    expect(retries).toHaveLength(2);
    const { rows: status } = await db.pool.query(`SELECT last_error, last_success_at FROM sync_status WHERE collection = 'outage_b'`);
    expect(status[0]).toMatchObject({ last_error: expect.stringMatching(/^firestore (unavailable|deadline_exceeded)/), last_success_at: null });
    expect(await rows('outage_b')).toBe(0);
  });
});

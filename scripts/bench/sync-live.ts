import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { createRuntime } from '../../src/runtime.js';
import { DEFAULT_MAPPINGS } from '../../src/sync/default-mappings.js';
import { sample } from '../../tests/support/prometheus-text.js';
import { echoLogLine, say } from './output.js';
import { type LatencyFigures, latencyFigures, writeSteadily } from './sync-live-writes.js';
import type { BenchEmulator } from './sync-emulator.js';
import { measurePhase } from './sync-phase.js';
import { onCleanup, removeAtEnd, usesRedis } from './sync-scratch.js';
import { LIVE_COLLECTION, queuePrefix, runId, syncSettings } from './sync-settings.js';
import { fixed } from './stats.js';

/**
 * Live latency: the whole service in this process (ROLE=all, ENABLE_FIRESTORE_SYNC=true, scheduled runs every
 * hour so only the snapshot listener brings documents in), reading a `live` collection of a fresh emulator
 * through a mappings file. Documents are written one at a time at a steady rate with updatedAt = now; for each,
 * the time from the write's completion to its row being visible in live_traces is measured by polling.
 */

export interface LiveRecord extends LatencyFigures {
  collection: string;
  ratePerSecond: number;
  pollMs: number;
  serviceEnv: Record<string, string>;
  serviceStartSeconds: number;
  /** From the service's start to vertigo_sync_listener_up{collection} 1 on /metrics. */
  listenerUpSeconds: number;
  missing: string[];
  /** Rows of the live collection in live_traces at the end. */
  rows: number;
  ok: boolean;
  target: { p99Ms: number; value: number | undefined; ok: boolean };
}

export async function measureLiveLatency(options: { emulator: BenchEmulator; databaseUrl: string; pool: pg.Pool }): Promise<LiveRecord> {
  const { emulator, databaseUrl, pool } = options;
  const { liveDocs, liveRate, pollMs, liveTimeoutMs, targetLiveP99Ms } = syncSettings;
  const traces = DEFAULT_MAPPINGS.collections.find((c) => c.collection === 'traces')!;
  const dir = mkdtempSync(join(tmpdir(), 'vertigo-bench-sync-'));
  removeAtEnd(dir);
  const mappingsFile = join(dir, 'mappings.json');
  writeFileSync(mappingsFile, JSON.stringify({ collections: [{ ...traces, collection: LIVE_COLLECTION }] }));

  const serviceEnv: Record<string, string> = {
    NODE_ENV: 'production',
    ROLE: 'all',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: queuePrefix,
    WEBHOOK_RATE_LIMIT_MAX: '0',
    ...emulator.env,
    ENABLE_FIRESTORE_SYNC: 'true',
    FIRESTORE_SYNC_MAPPINGS_FILE: mappingsFile,
    // Only the listener brings documents in: the scheduled incremental run comes once an hour.
    FIRESTORE_SYNC_INTERVAL_SECONDS: '3600',
  };
  // Every webhook source gets a secret only so that the service does not warn about the missing ones.
  const secrets = {
    LANGFUSE_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    LANGWATCH_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    CUSTOM_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    STANDARD_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
  };
  const config = loadConfig({ ...serviceEnv, ...secrets });
  const echo = echoLogLine('vertigo');
  const logger = pino({ level: config.logLevel }, { write: (line: string) => echo(line.trimEnd()) });

  const startedAt = performance.now();
  usesRedis();
  const runtime = await createRuntime(config, logger, { databaseUrl, redisUrl: syncSettings.redisUrl });
  const stopService = onCleanup('the in-process service', () => runtime.stop());
  await runtime.start();
  const serviceStartSeconds = (performance.now() - startedAt) / 1000;
  const { port } = runtime.app.server.address() as { port: number };
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const deadline = Date.now() + 60_000;
  while (sample(await (await fetch(metricsUrl)).text(), 'vertigo_sync_listener_up', { collection: LIVE_COLLECTION }) !== 1) {
    if (Date.now() > deadline) throw new Error(`the listener of "${LIVE_COLLECTION}" was not up within 60 s (vertigo_sync_listener_up on ${metricsUrl})`);
    await sleep(50);
  }
  const listenerUpSeconds = (performance.now() - startedAt) / 1000;
  say(`  service up in ${fixed(serviceStartSeconds, 2)} s, listener up after ${fixed(listenerUpSeconds, 2)} s; writing ${liveDocs} documents at ${liveRate}/s`);

  const ref = emulator.client().collection(LIVE_COLLECTION);
  const idPrefix = `live-${runId}`;
  const latencyMs: (number | undefined)[] = Array.from({ length: liveDocs }, () => undefined);
  const writtenAt: number[] = [];
  const pending = new Map<string, number>();
  let writerDone = false;
  let lastWriteAt = 0;

  const poll = async () => {
    for (;;) {
      if (writerDone && (pending.size === 0 || performance.now() - lastWriteAt > liveTimeoutMs)) return;
      if (pending.size > 0) {
        const at = performance.now(); // the row was visible when this query's snapshot was taken
        const { rows } = await pool.query<{ external_id: string }>(
          'SELECT external_id FROM live_traces WHERE source = $1 AND external_id = ANY($2::text[])',
          [traces.source, [...pending.keys()]],
        );
        for (const r of rows) {
          const i = pending.get(r.external_id);
          if (i === undefined) continue;
          latencyMs[i] = at - writtenAt[i]!;
          pending.delete(r.external_id);
        }
      }
      await sleep(pollMs);
    }
  };

  const { value: writes, figures } = await measurePhase(async () => {
    const polling = poll();
    try {
      return await writeSteadily(ref, liveDocs, liveRate, idPrefix, (i, at) => {
        writtenAt[i] = at;
        lastWriteAt = at;
        pending.set(`${idPrefix}-${i}`, i);
      });
    } finally {
      writerDone = true;
      await polling;
    }
  }, { emulatorPid: emulator.pid });

  const missing = [...pending.keys()];
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM live_traces WHERE source = $1 AND metadata->'firestore'->>'collection' = $2`,
    [traces.source, LIVE_COLLECTION],
  );
  await stopService();
  const latency = latencyFigures(latencyMs, writes, figures);
  const rowCount = Number(rows[0]!.n);
  return {
    ...latency,
    collection: LIVE_COLLECTION,
    ratePerSecond: liveRate,
    pollMs,
    serviceEnv: { ...serviceEnv, FIRESTORE_SYNC_MAPPINGS_FILE: '<tmp>/mappings.json' },
    serviceStartSeconds,
    listenerUpSeconds,
    missing,
    rows: rowCount,
    ok: missing.length === 0 && rowCount === liveDocs,
    target: {
      p99Ms: targetLiveP99Ms,
      value: latency.latencyMs?.p99,
      ok: latency.latencyMs !== undefined && missing.length === 0 && latency.latencyMs.p99 < targetLiveP99Ms,
    },
  };
}

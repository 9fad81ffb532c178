import type { Firestore } from '@google-cloud/firestore';
import type pg from 'pg';
import type { Logger } from 'pino';
import { LlmMetrics } from '../../src/metrics/llm.metrics.js';
import { PersistMetrics } from '../../src/metrics/persist.metrics.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { SyncMetrics } from '../../src/metrics/sync.metrics.js';
import { CollectionSync, type SyncRunResult } from '../../src/sync/collection-sync.js';
import type { CollectionMapping } from '../../src/sync/mapping.js';
import type { RetryPolicy } from '../../src/sync/retry.js';
import { say } from './output.js';
import { CountingReader, measurePhase, type PhaseFigures } from './sync-phase.js';
import { fixed, thousands } from './stats.js';

/**
 * The measured figure: one CollectionSync incremental run over the whole seeded collection, as the service's
 * sync worker runs it (its metrics attached, the service's default pool size and retry policy), into the
 * migrated scratch database; then the stored rows are checked against the documents.
 */

/** FIRESTORE_SYNC_RETRY_* defaults. */
export const SERVICE_RETRY: RetryPolicy = { attempts: 6, baseMs: 500, maxMs: 30_000 };
export const SYNC_APPLICATION_NAME = 'vertigo-bench-sync';

export interface SyncRunRecord {
  result: SyncRunResult;
  figures: PhaseFigures;
  queries: number;
  tieQueries: number;
  /** Time spent inside the Firestore queries (and their decoding), the rest being mapping and PostgreSQL. */
  readSeconds: number;
  check: SyncCheck;
}

export interface SyncCheck {
  ok: boolean;
  expected: number;
  liveTraces: number;
  liveTracesOfCollection: number;
  webhookEvents: number;
  documentsReported: number;
  written: number;
  problems: string[];
}

const countOf = async (pool: pg.Pool, sql: string, values: unknown[] = []): Promise<number> =>
  Number((await pool.query<{ n: string }>(sql, values)).rows[0]!.n);

export async function runMeasuredSync(options: {
  firestore: Firestore;
  pool: pg.Pool;
  monitor: pg.Pool;
  mapping: CollectionMapping;
  batchSize: number;
  hoursBack: number;
  expected: number;
  logger: Logger;
  emulatorPid: number | undefined;
}): Promise<SyncRunRecord> {
  const { firestore, pool, monitor, mapping, batchSize, hoursBack, expected, logger, emulatorPid } = options;
  const registry = createMetricsRegistry({ version: 'bench', role: 'worker' });
  const metrics = new SyncMetrics(registry, { collections: [mapping.collection], local: () => [], stored: async () => [] });
  const reader = new CountingReader(firestore, mapping, SERVICE_RETRY);
  const sync = new CollectionSync({
    pool,
    reader,
    batchSize,
    logger,
    metrics,
    persistMetrics: new PersistMetrics(registry),
    llmMetrics: new LlmMetrics(registry, 100),
  });
  let nextReport = expected / 10;
  const { value: result, figures } = await measurePhase(
    () =>
      sync.run({
        mode: 'incremental',
        hoursBack,
        onProgress: (p) => {
          if (p.documents < nextReport) return;
          nextReport += expected / 10;
          say(`  sync: ${thousands(p.documents)} documents in ${fixed(p.elapsedMs / 1000, 1)} s (${thousands(p.documents / (p.elapsedMs / 1000))} docs/s)`);
        },
      }),
    { postgres: { monitor, applicationName: SYNC_APPLICATION_NAME }, emulatorPid },
  );
  const check = await checkRows(pool, mapping, expected, result);
  return { result, figures, queries: reader.queries, tieQueries: reader.tieQueries, readSeconds: reader.readMs / 1000, check };
}

/** Exactly one row per document in live_traces (and one event each in webhook_events), nothing else. */
async function checkRows(pool: pg.Pool, mapping: CollectionMapping, expected: number, result: SyncRunResult): Promise<SyncCheck> {
  const liveTraces = await countOf(pool, 'SELECT count(*) AS n FROM live_traces');
  const liveTracesOfCollection = await countOf(
    pool,
    `SELECT count(DISTINCT metadata->'firestore'->>'document') AS n FROM live_traces WHERE source = $1 AND metadata->'firestore'->>'collection' = $2`,
    [mapping.source, mapping.collection],
  );
  const webhookEvents = await countOf(pool, `SELECT count(*) AS n FROM webhook_events WHERE source = $1 AND payload->>'collection' = $2`, [
    mapping.source,
    mapping.collection,
  ]);
  const problems: string[] = [];
  if (result.status !== 'done') problems.push(`the run ended "${result.status}", not "done"`);
  if (liveTraces !== expected) problems.push(`live_traces has ${liveTraces} rows, expected exactly ${expected}`);
  if (liveTracesOfCollection !== expected) problems.push(`live_traces holds ${liveTracesOfCollection} distinct documents of "${mapping.collection}", expected ${expected}`);
  if (webhookEvents !== expected) problems.push(`webhook_events has ${webhookEvents} events of "${mapping.collection}", expected ${expected}`);
  if (result.documents !== expected) problems.push(`the run reports ${result.documents} documents, expected ${expected}`);
  if (result.outcomes.written !== expected) problems.push(`the run wrote ${result.outcomes.written} documents, expected ${expected} (outcomes ${JSON.stringify(result.outcomes)})`);
  return {
    ok: problems.length === 0,
    expected,
    liveTraces,
    liveTracesOfCollection,
    webhookEvents,
    documentsReported: result.documents,
    written: result.outcomes.written,
    problems,
  };
}

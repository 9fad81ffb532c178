import { runBenchmark } from './bench/run-main.js';
import type { Firestore, Timestamp } from '@google-cloud/firestore';
import pg from 'pg';
import { pino } from 'pino';
import { migrate } from '../src/store/migrate.js';
import { createPool, pgTypes } from '../src/store/postgres.js';
import { DEFAULT_MAPPINGS } from '../src/sync/default-mappings.js';
import { type CollectionMapping, parseMappings } from '../src/sync/mapping.js';
import { describeMachine, gitInfo } from './bench/machine.js';
import { BenchFailure, echoLogLine, loud, say } from './bench/output.js';
import { fixed, thousands } from './bench/stats.js';
import { createInsertTable, INSERT_TABLE, insertAll, mapRows, readAll } from './bench/sync-baselines.js';
import { startBenchEmulator } from './bench/sync-emulator.js';
import { measureLiveLatency } from './bench/sync-live.js';
import { measureEmulatorListener } from './bench/sync-live-writes.js';
import { CountingReader, measurePhase } from './bench/sync-phase.js';
import { printSyncHeader, printSyncResults, resultsOk, type SyncBenchResults, writeSyncResults } from './bench/sync-report.js';
import { runMeasuredSync, SERVICE_RETRY, SYNC_APPLICATION_NAME } from './bench/sync-run.js';
import { cleanupSync, createScratchDatabase, onCleanup } from './bench/sync-scratch.js';
import { countDocuments, planSeed, seedCollection } from './bench/sync-seed.js';
import { databaseName, LIVE_COLLECTION, SEED_COLLECTION, syncSettings, USAGE } from './bench/sync-settings.js';

/**
 * `npm run bench:sync [-- --docs N --batch-size N --live-docs N --live-rate N --poll-ms N]`: how fast the
 * Firestore sync moves documents into PostgreSQL, next to what the emulator and PostgreSQL allow on their own,
 * and how soon a document written to Firestore shows up as a row in live mode.
 *
 *   1. a scratch database `vertigo_bench_sync_<random>` (migrated) and the Firestore emulator in this process
 *      (tests/support/firestore-emulator.ts); N documents (default 50,000) seeded into `traces` with every field
 *      of the shipped mapping, distinct updatedAt over the last 12 hours but for 1 % sharing one (ties); the
 *      seeding is timed too (the emulator's write speed, not ours: each new document costs it O(documents
 *      already there), ~20–30 min for 50,000 on 2 cores, even with its immer auto-freeze switched off, see
 *      scripts/bench/sync-emulator-immer.ts);
 *   2. baselines, same run: the sync's paged queries reading everything and writing nothing (the emulator's
 *      ceiling), then the same documents mapped and inserted one statement per page into a scratch table
 *      without indexes (PostgreSQL's ceiling);
 *   3. the measured figure: a CollectionSync incremental run over all N documents (batch size 500 by default),
 *      then live_traces must hold exactly N rows (else the run fails, exit code 1);
 *   4. live latency, first the baseline: a bare snapshot listener of a fresh emulator on the service's query
 *      shape, timed from each write's completion to the snapshot holding it (this emulator resends a listener's
 *      whole result on every write, so its cost per write grows with the documents written); then the whole
 *      service in this process against another fresh emulator (ROLE=all,
 *      ENABLE_FIRESTORE_SYNC=true, a mappings file with a `live` collection, scheduled runs hourly so only the
 *      listener brings documents in); 200 documents written one at a time at 20/s, each timed from the
 *      write's completion to its row in live_traces (polled every 10 ms); target p99 < 2 s (reported, never
 *      failed on);
 *   5. a table, and JSON in bench/results/sync-<timestamp>.json; the database dropped and the run's Redis keys
 *      deleted (also on failure or Ctrl-C).
 *
 * Environment: BENCH_DATABASE_URL or DATABASE_URL (admin connection, default
 * postgres://postgres@127.0.0.1:5432/test), BENCH_REDIS_URL or REDIS_URL (default redis://127.0.0.1:6379).
 * Everything runs in one Node process, the emulator included (--emulator-process gives the emulator a process
 * of its own): figures are comparable within a run, and other work on the machine shows in the load average
 * printed with them.
 */

// The Firestore clients of this process talk to the emulator only: no metadata-server lookup (and its warnings).
process.env.METADATA_SERVER_DETECTION ??= 'none';


const INSERT_APPLICATION_NAME = 'vertigo-bench-insert';

/** Both baselines; the rows built for the insert are let go before the measured run. */
async function baselines(
  firestore: Firestore,
  emulatorPid: number | undefined,
  mapping: CollectionMapping,
  times: readonly Timestamp[],
  insertPool: pg.Pool,
  monitor: pg.Pool,
) {
  const { batchSize, hoursBack } = syncSettings;
  const reader = new CountingReader(firestore, mapping, SERVICE_RETRY);
  const start = reader.codec.fromDate(new Date(Date.now() - hoursBack * 3600_000));
  say(`baseline: read-only, the sync's queries with limit ${batchSize}, nothing written`);
  const read = await measurePhase(() => readAll(reader, start, batchSize), { emulatorPid });
  const { documents, distinct } = read.value;
  say(`  ${thousands(documents)} documents (${thousands(distinct)} distinct) in ${fixed(read.figures.seconds, 2)} s (${thousands(documents / read.figures.seconds)} docs/s), ${reader.queries} queries`);

  const mapStarted = performance.now();
  const { rows, malformed } = mapRows(reader, times);
  const mapSeconds = (performance.now() - mapStarted) / 1000;
  await createInsertTable(insertPool);
  say(`baseline: insert-only, ${thousands(rows.length)} mapped rows, one INSERT … SELECT FROM jsonb_to_recordset per ${batchSize} rows`);
  const insert = await measurePhase(() => insertAll(insertPool, rows, batchSize), { postgres: { monitor, applicationName: INSERT_APPLICATION_NAME } });
  say(`  ${thousands(insert.value)} rows in ${fixed(insert.figures.seconds, 2)} s (${thousands(insert.value / insert.figures.seconds)} rows/s)`);
  // Gone before the measured run, so autovacuum has nothing of it to work on meanwhile.
  await insertPool.query(`DROP TABLE ${INSERT_TABLE}`);
  return {
    readOnly: { docs: documents, distinct, queries: reader.queries, tieQueries: reader.tieQueries, figures: read.figures },
    insertOnly: { rows: insert.value, malformed, mapSeconds, figures: insert.figures },
  };
}

async function main(): Promise<number> {
  if (syncSettings.help) {
    say(USAGE);
    return 0;
  }
  const startedAt = new Date();
  const git = gitInfo();
  const machine = describeMachine();
  printSyncHeader(startedAt, machine, git);
  const echo = echoLogLine('sync');
  const logger = pino({ level: 'warn' }, { write: (line: string) => echo(line.trimEnd()) });

  const databaseUrl = await createScratchDatabase();
  await migrate(databaseUrl, logger);
  say(`scratch: database ${databaseName}, migrated`);
  const syncPool = createPool(databaseUrl, syncSettings.poolMax, logger, SYNC_APPLICATION_NAME);
  onCleanup('the sync pool', () => syncPool.end());
  const insertPool = new pg.Pool({ connectionString: databaseUrl, max: 1, application_name: INSERT_APPLICATION_NAME, types: pgTypes });
  onCleanup('the insert pool', () => insertPool.end());
  const monitor = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'vertigo-bench', types: pgTypes });
  onCleanup('the benchmark pool', () => monitor.end());

  // 1. Seed.
  const emulator = await startBenchEmulator('vertigo-bench');
  const stopEmulator = onCleanup('the seeded emulator', () => emulator.stop());
  say(`emulator: ${emulator.host}${emulator.pid ? ` (child process ${emulator.pid})` : ' (in this process)'}`);
  const { plan, times } = planSeed(syncSettings.docs, syncSettings.tiesFraction, syncSettings.spreadHours);
  say(`seed: ${thousands(plan.docs)} documents into "${SEED_COLLECTION}", ${plan.ties} of them at ${plan.tieAt.toDate().toISOString()} (+${plan.tieAt.nanoseconds % 1e6} ns)`);
  const seeded = await measurePhase(() => seedCollection(emulator.client(), SEED_COLLECTION, times), { emulatorPid: emulator.pid });
  const reader = emulator.client();
  const counted = await countDocuments(reader, SEED_COLLECTION);
  say(`  ${thousands(counted)} documents in ${fixed(seeded.figures.seconds, 2)} s (${thousands(plan.docs / seeded.figures.seconds)} docs/s)`);
  if (counted !== plan.docs) throw new BenchFailure(`the emulator holds ${counted} documents after seeding, expected ${plan.docs}`);

  // 2. Baselines, with the client the sync will use (its channel warmed up by the count above).
  const mapping = parseMappings(DEFAULT_MAPPINGS).find((m) => m.collection === SEED_COLLECTION)!;
  const base = await baselines(reader, emulator.pid, mapping, times, insertPool, monitor);

  // 3. The measured run.
  say(`sync: CollectionSync incremental run, batch size ${syncSettings.batchSize}, hours_back ${syncSettings.hoursBack}`);
  const sync = await runMeasuredSync({
    firestore: reader,
    pool: syncPool,
    monitor,
    mapping,
    batchSize: syncSettings.batchSize,
    hoursBack: syncSettings.hoursBack,
    expected: plan.docs,
    logger,
    emulatorPid: emulator.pid,
  });
  say(`  ${thousands(sync.result.documents)} documents in ${fixed(sync.figures.seconds, 2)} s (${thousands(sync.result.documents / sync.figures.seconds)} docs/s)`);
  if (!sync.check.ok) loud(`ROW COUNT CHECK FAILED: ${sync.check.problems.join('; ')}`);
  await stopEmulator();

  // 4. Live latency, against a fresh emulator: neither its queries nor this process's heap carry the seeded documents.
  let liveBaseline: SyncBenchResults['liveBaseline'];
  let live: SyncBenchResults['live'];
  if (syncSettings.liveDocs > 0) {
    say(`live baseline: a bare snapshot listener of a fresh emulator, ${syncSettings.liveDocs} writes at ${syncSettings.liveRate}/s`);
    const baselineEmulator = await startBenchEmulator('vertigo-bench-listen');
    const stopBaselineEmulator = onCleanup('the live-baseline emulator', () => baselineEmulator.stop());
    liveBaseline = await measureEmulatorListener(baselineEmulator, LIVE_COLLECTION);
    await stopBaselineEmulator();
    say(`  p50 ${fixed(liveBaseline.latencyMs?.p50, 1)} ms, p99 ${fixed(liveBaseline.latencyMs?.p99, 1)} ms`);

    say(`live: the service in this process against another fresh emulator, collection "${LIVE_COLLECTION}"`);
    const liveEmulator = await startBenchEmulator('vertigo-bench-live');
    const stopLiveEmulator = onCleanup('the live emulator', () => liveEmulator.stop());
    live = await measureLiveLatency({ emulator: liveEmulator, databaseUrl, pool: monitor });
    await stopLiveEmulator();
    say(`  p50 ${fixed(live.latencyMs?.p50, 1)} ms, p99 ${fixed(live.latencyMs?.p99, 1)} ms`);
  }

  // 5. Report.
  const results: SyncBenchResults = {
    startedAt,
    machine,
    git,
    seed: { ...plan, counted, batches: seeded.value, figures: seeded.figures },
    readOnly: base.readOnly,
    insertOnly: base.insertOnly,
    sync,
    liveBaseline,
    live,
  };
  say();
  printSyncResults(results);
  const file = writeSyncResults(results);
  say();
  say(`results: ${file}`);
  if (!resultsOk(results)) {
    loud('MISMATCH: the rows stored do not match the documents written (see the checks above)');
    return 1;
  }
  return 0;
}

await runBenchmark(main, cleanupSync);

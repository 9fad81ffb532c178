import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

/**
 * What one run of the sync benchmark works with: its command-line flags (described in the header of
 * scripts/bench-sync.ts), the database and Redis it uses, and the run's own names (scratch database, queue
 * prefix). Read once when this module loads.
 */

export const USAGE = `usage: npm run bench:sync -- [--docs N] [--batch-size N] [--live-docs N] [--live-rate N] [--poll-ms N] [--emulator-process]

  --docs N        documents seeded into the emulator's \`traces\` collection and synced (default 50000)
  --batch-size N  page size of the sync and of both baselines (default 500, the service's default)
  --live-docs N   documents written one at a time in the live-latency phase (default 200; 0 skips the phase)
  --live-rate N   writes per second in the live phase (default 20)
  --poll-ms N     how often the live phase looks for the rows in live_traces (default 10)
  --emulator-process
                  run the Firestore emulator in a child process instead of this one (default: in this process)

environment: BENCH_DATABASE_URL or DATABASE_URL (admin connection, default postgres://postgres@127.0.0.1:5432/test),
BENCH_REDIS_URL or REDIS_URL (default redis://127.0.0.1:6379)`;

function intFlag(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max} (got "${raw}")\n\n${USAGE}`);
  return value;
}

function readFlags() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      docs: { type: 'string' },
      'batch-size': { type: 'string' },
      'live-docs': { type: 'string' },
      'live-rate': { type: 'string' },
      'poll-ms': { type: 'string' },
      'emulator-process': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  return {
    help: values.help === true,
    emulatorProcess: values['emulator-process'] === true,
    docs: intFlag(values.docs, 'docs', 50_000, 100, 1_000_000),
    // Firestore (and the mapping's schema) allow at most 10,000 documents per page; a batched write holds 500.
    batchSize: intFlag(values['batch-size'], 'batch-size', 500, 1, 10_000),
    liveDocs: intFlag(values['live-docs'], 'live-docs', 200, 0, 100_000),
    liveRate: intFlag(values['live-rate'], 'live-rate', 20, 1, 1000),
    pollMs: intFlag(values['poll-ms'], 'poll-ms', 10, 1, 1000),
  };
}

const flags = readFlags();

export const syncSettings = {
  ...flags,
  /** Share of the documents that carry one and the same updatedAt (a group of ties). */
  tiesFraction: 0.01,
  /** The seeded documents' updatedAt are spread over this window, ending when seeding starts. */
  spreadHours: 12,
  /** hours_back of the measured incremental run (FIRESTORE_SYNC_HOURS_BACK's default). */
  hoursBack: 24,
  /** The service's DATABASE_POOL_MAX default: the pool the measured run writes through. */
  poolMax: 10,
  /** How long the live phase waits for the last rows after the last write. */
  liveTimeoutMs: 30_000,
  /** The live-latency target (p99, ms). */
  targetLiveP99Ms: 2000,
  adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};

export const runId = randomBytes(4).toString('hex');
export const databaseName = `vertigo_bench_sync_${runId}`;
export const queuePrefix = `vbench-sync-${runId}`;
export const SEED_COLLECTION = 'traces';
export const LIVE_COLLECTION = 'live';

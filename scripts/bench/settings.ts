import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGET_BODY_BYTES } from './payload.js';

/**
 * What one run of the ingest benchmark works with: the BENCH_* environment variables (described in the header of
 * scripts/bench-ingest.ts), read once when this module loads, and the run's own names (scratch database, queue
 * prefix, webhook secret, profile directory).
 */

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
export const WEBHOOK_PATH = '/live-data/webhooks/custom';

function numberFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function parseServiceEnv(raw: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`BENCH_SERVICE_ENV: "${pair}" is not NAME=value`);
    env[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return env;
}

export const settings = {
  durationSeconds: numberFromEnv('BENCH_DURATION', 10, 1, 3600),
  warmupSeconds: numberFromEnv('BENCH_WARMUP', 2, 0, 600),
  rounds: Math.round(numberFromEnv('BENCH_ROUNDS', 3, 1, 50)),
  connections: Math.round(numberFromEnv('BENCH_CONNECTIONS', 50, 1, 10_000)),
  adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  skipBuild: process.env.BENCH_SKIP_BUILD === '1',
  cpuProfile: process.env.BENCH_CPU_PROF === '1',
  /** WEBHOOK_RATE_LIMIT_MAX of the Vertigo children: 0 is documented to switch the limiter off. */
  rateLimitMax: Math.round(numberFromEnv('BENCH_RATE_LIMIT_MAX', 0, 0, 10_000_000)),
  /** Extra service variables for the Vertigo children, e.g. "ENQUEUE_MAX_IN_FLIGHT=1,PERSIST_FLUSH_INTERVAL_MS=0". */
  serviceEnv: parseServiceEnv(process.env.BENCH_SERVICE_ENV ?? ''),
  bodyBytes: TARGET_BODY_BYTES,
  // --- `npm run bench` only (scripts/bench.ts) ------------------------------------------------------------
  /** The second connection count of the single-event ingest runs. */
  connectionsHigh: Math.round(numberFromEnv('BENCH_CONNECTIONS_HIGH', 200, 1, 10_000)),
  /** Events per batched `{"events":[...]}` delivery (0 skips the batched runs). */
  batchEvents: Math.round(numberFromEnv('BENCH_BATCH_EVENTS', 100, 0, 1000)),
  /** Events put on the queue for the persist measurement, and events per job as the API forms them. */
  persistEvents: Math.round(numberFromEnv('BENCH_PERSIST_EVENTS', 30_000, 100, 10_000_000)),
  persistJobEvents: Math.round(numberFromEnv('BENCH_PERSIST_JOB_EVENTS', 12, 1, 1000)),
  /** Freshness: one probe event per interval; the database and /metrics polled every poll interval. */
  probeIntervalMs: numberFromEnv('BENCH_PROBE_INTERVAL_MS', 50, 5, 10_000),
  pollMs: numberFromEnv('BENCH_POLL_MS', 25, 1, 10_000),
  /** Requests per second of the load under which freshness is measured (0: as fast as it goes, like the ingest runs). */
  freshRate: Math.round(numberFromEnv('BENCH_FRESH_RATE', 0, 0, 1_000_000)),
  /** Series wanted on the worker's /metrics for the scrape measurement, and scrapes timed. */
  scrapeSeries: Math.round(numberFromEnv('BENCH_SCRAPE_SERIES', 10_000, 0, 200_000)),
  scrapes: Math.round(numberFromEnv('BENCH_SCRAPES', 200, 10, 100_000)),
  /** RSS sampling interval of the service processes. */
  rssIntervalMs: numberFromEnv('BENCH_RSS_INTERVAL_MS', 250, 10, 10_000),
};

export const runId = randomBytes(4).toString('hex');
export const queuePrefix = `vbench-${runId}`;
export const databaseName = `vertigo_bench_${runId}`;
export const secret = randomBytes(24).toString('hex');
/** The `standard` source's secret (Standard Webhooks `whsec_<base64>`): the freshness probe and scrape traces use it. */
export const standardSecret = `whsec_${randomBytes(24).toString('base64')}`;
export const profileDir = join(os.tmpdir(), `vertigo-bench-prof-${runId}`);

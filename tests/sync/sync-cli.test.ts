import { spawn } from 'node:child_process';
import { type Firestore, Timestamp } from '@google-cloud/firestore';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSyncArgs, UsageError } from '../../scripts/sync.js';
import { migrate } from '../../src/store/migrate.js';
import { releaseRunLock, tryRunLock } from '../../src/sync/sync-status.repository.js';
import { REPO_ROOT } from '../support/child-service.js';
import { startFirestoreEmulator, type FirestoreEmulator } from '../support/firestore-emulator.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { waitFor } from '../support/wait-for.js';

/**
 * `npm run sync` (scripts/sync.ts): its argument parser, and the real command as a child process against the
 * Firestore emulator and PostgreSQL: killed mid-run with SIGKILL then run again (nothing missing, nothing
 * twice), and refused with exit code 3 while another run holds the collection's lock.
 */

describe('parseSyncArgs', () => {
  it('reads the options', () => {
    expect(parseSyncArgs(['--collection', 'traces', '--hours-back', '168'])).toEqual({ help: false, collection: 'traces', full: false, hoursBack: 168 });
    expect(parseSyncArgs(['--collection=meetings', '--full', '--batch-size', '50'])).toEqual({ help: false, collection: 'meetings', full: true, batchSize: 50 });
    expect(parseSyncArgs(['--help'])).toEqual({ help: true });
  });

  it('refuses a missing collection, bad numbers and unknown options', () => {
    expect(() => parseSyncArgs(['--hours-back', '24'])).toThrow(UsageError);
    expect(() => parseSyncArgs(['--hours-back', '24'])).toThrow(/--collection is required/);
    for (const bad of ['x', '0', '-3', '1.5', '9000', '']) {
      expect(() => parseSyncArgs(['--collection', 'traces', '--hours-back', bad])).toThrow(UsageError);
    }
    expect(() => parseSyncArgs(['--collection', 'traces', '--batch-size', '0'])).toThrow(/--batch-size/);
    expect(() => parseSyncArgs(['--collection', 'traces', '--bogus'])).toThrow(UsageError);
    expect(() => parseSyncArgs(['--collection'])).toThrow(UsageError);
  });
});

const logger = pino({ level: 'silent' });
const TOTAL = 3000;
const COLLECTION = 'traces';
/** The application_name of the command's connections (createPool in scripts/sync.ts). */
const CLI_APPLICATION = 'vertigo-sync-cli';
/** Variables the command reads: never inherited from the test's environment, only set explicitly. */
const SERVICE_VARIABLE = /^(NODE_ENV|LOG_LEVEL|DATA_DIR|DATABASE_|REDIS_|ENABLE_FIRESTORE|FIRESTORE_|GOOGLE_|METADATA_SERVER)/;

let emulator: FirestoreEmulator;
let firestore: Firestore;
let db: TestDatabase;

interface CliRun {
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

function runCli(args: string[]): CliRun {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !SERVICE_VARIABLE.test(key)) env[key] = value;
  Object.assign(env, emulator.env, { DATABASE_URL: db.url, ENABLE_FIRESTORE_SYNC: 'true' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/sync.ts', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return { pid: child.pid!, exited, output: () => output, kill: (signal) => void process.kill(child.pid!, signal) };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(sql, params);
  return rows[0]!.n;
}
const liveTraces = () => count(`SELECT count(*)::int AS n FROM live_traces WHERE metadata->'firestore'->>'collection' = $1`, [COLLECTION]);
const recordsTotal = () => count(`SELECT COALESCE(max(records_total), 0)::int AS n FROM sync_status WHERE sync_type = 'firestore' AND collection = $1`, [COLLECTION]);
/** Connections of the command still open: a killed one's backends end (and roll back) a little after it. */
const cliConnections = () => count(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, [CLI_APPLICATION]);

beforeAll(async () => {
  emulator = await startFirestoreEmulator();
  firestore = emulator.client();
  db = await createTestDatabase();
  await migrate(db.url, logger);
  // TOTAL documents of the shipped `traces` mapping, one every 1.2 s over the last hour (no ties).
  const start = Date.now() - 3600_000;
  for (let i = 0; i < TOTAL; i += 400) {
    const batch = firestore.batch();
    for (let j = i; j < Math.min(TOTAL, i + 400); j++) {
      batch.set(firestore.collection(COLLECTION).doc(`doc-${String(j).padStart(5, '0')}`), {
        traceId: `cli-t-${j}`,
        model: 'gpt-4o-mini',
        status: 'completed',
        latencyMs: 100 + (j % 500),
        updatedAt: Timestamp.fromMillis(start + j * 1200),
      });
    }
    await batch.commit();
  }
});
afterAll(async () => {
  await emulator?.stop();
  await db?.drop();
});

describe('npm run sync', () => {
  it('exits 2 with the usage on bad arguments', async () => {
    const run = runCli(['--collection', COLLECTION, '--hours-back', 'soon']);
    expect((await run.exited).code).toBe(2);
    expect(run.output()).toMatch(/--hours-back must be a whole number/);
    expect(run.output()).toMatch(/usage: npm run sync/);
  });

  it('killed mid-run and run again: every document stored once, nothing missing', { timeout: 120_000 }, async () => {
    const first = runCli(['--collection', COLLECTION, '--hours-back', '24', '--batch-size', '50']);
    let exitedEarly = false;
    void first.exited.then(() => (exitedEarly = true));
    const seen = await waitFor(async () => {
      if (exitedEarly) return 'exited';
      const n = await recordsTotal();
      return n > 0 ? n : undefined;
    }, 60_000, 20);
    if (seen === 'exited') throw new Error(`the first run ended before any page was seen:\n${first.output()}`);
    first.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor(async () => (await cliConnections()) === 0, 15_000, 20);

    const partial = await liveTraces();
    // The kill must have landed mid-run: some pages committed, not all.
    expect(seen, first.output()).toBeLessThan(TOTAL);
    expect(partial, first.output()).toBeGreaterThan(0);
    expect(partial, first.output()).toBeLessThan(TOTAL);
    // The cursor moved with exactly the rows of the committed pages.
    expect(await recordsTotal()).toBe(partial);

    const second = runCli(['--collection', COLLECTION, '--hours-back', '24', '--batch-size', '50']);
    const exit = await second.exited;
    const output = second.output();
    expect(exit, output).toEqual({ code: 0, signal: null });
    console.info(`first run killed after ${partial} documents; second run:\n${output}`);
    expect(output).toMatch(/sync traces \(incremental\): done/);
    // Counted up front for the ETA: what the stored cursor leaves to read.
    expect(output).toContain(`${TOTAL - partial} documents to read`);
    expect(output).toMatch(/docs\/s .*ETA/);
    const read = Number(/^\s*documents\s+(\d+)$/m.exec(output)?.[1]);
    expect(read).toBe(TOTAL - partial);
    expect(partial + read).toBe(TOTAL);
    expect(output).toMatch(new RegExp(`written ${TOTAL - partial}, unchanged 0, superseded 0, malformed 0, deleted 0`));

    const { rows } = await db.pool.query<{ external_id: string }>(`SELECT external_id FROM live_traces WHERE metadata->'firestore'->>'collection' = $1`, [COLLECTION]);
    expect(rows).toHaveLength(TOTAL);
    expect(new Set(rows.map((r) => r.external_id))).toEqual(new Set(Array.from({ length: TOTAL }, (_, i) => `cli-t-${i}`)));
    const events = await db.pool.query<{ events: number; distinct: number }>(
      `SELECT count(*)::int AS events, count(DISTINCT payload->>'document')::int AS distinct
         FROM webhook_events WHERE source = 'firestore' AND payload->>'collection' = $1`,
      [COLLECTION],
    );
    expect(events.rows[0]).toEqual({ events: TOTAL, distinct: TOTAL });
    expect(await recordsTotal()).toBe(TOTAL);
  });

  it('exits 3 while another run holds the collection lock', async () => {
    const client = await db.pool.connect();
    try {
      expect(await tryRunLock(client, 'firestore', COLLECTION)).toBe(true);
      const run = runCli(['--collection', COLLECTION, '--hours-back', '24']);
      expect((await run.exited).code, run.output()).toBe(3);
      expect(run.output()).toMatch(/another sync run of traces is active/);
      expect(run.output()).not.toMatch(/^\s*documents\s+\d+$/m);
    } finally {
      await releaseRunLock(client, 'firestore', COLLECTION);
      client.release();
    }
  });
});

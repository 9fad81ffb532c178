import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/dev/free-port.js';
import { type ExitResult, type Proc, startProcess, waitUntil } from './processes.js';

/**
 * The service under test as child processes, `node --import tsx src/server.ts`, one per role (ROLE=api and
 * ROLE=worker) so that each can be killed alone. A role keeps its port across restarts: the load generator's
 * URL stays valid and it reconnects by itself.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Variables the service reads: never inherited from this shell, only set explicitly. */
const SERVICE_VARIABLE =
  /^(NODE_ENV|NODE_OPTIONS|ROLE|HOST|PORT|DATA_DIR|QUEUE_PREFIX|LOG_LEVEL|DATABASE_|REDIS_|LANGFUSE_|LANGWATCH_|CUSTOM_|STANDARD_|WEBHOOK_|ENQUEUE_|PERSIST_|WORKER_|METRICS_|SHUTDOWN_|SENTRY_|LOKI_|TRUST_PROXY|ENABLE_FIRESTORE|FIRESTORE_|GOOGLE_|ADMIN_API_TOKEN)/;

/**
 * Settings for the run, shorter than the defaults so a scenario recovers within seconds: a dead worker's jobs
 * come back after 5 s, and a failed write is retried after 0.2 s doubling up to 2 s (50 attempts: over a minute
 * and a half of database outage before a job is given up).
 */
export const CHAOS_SERVICE_ENV: Record<string, string> = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  WEBHOOK_RATE_LIMIT_MAX: '0',
  WORKER_LOCK_DURATION_MS: '5000',
  WORKER_STALLED_INTERVAL_MS: '2000',
  PERSIST_BACKOFF_MS: '200',
  PERSIST_MAX_BACKOFF_MS: '2000',
  PERSIST_MAX_ATTEMPTS: '50',
  SHUTDOWN_TIMEOUT_MS: '20000',
};

export interface ServiceOptions {
  role: 'api' | 'worker';
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  secret: string;
  dataDir: string;
  /** Where `api.log` and `worker.log` are written (every start appends). */
  logDir: string;
}

/** A process of the service that exited without being told to (a crash). */
export interface UnexpectedExit {
  name: string;
  pid: number;
  at: number;
  exit: ExitResult;
  /** Its last lines of output (the stack trace of a crash). */
  tail: string;
}

export class ServiceRole {
  private proc: Proc | undefined;
  private starts = 0;
  private stopping = false;
  /** Crashes since the last `takeUnexpectedExits()`. */
  private crashes: UnexpectedExit[] = [];

  private constructor(
    private readonly options: ServiceOptions,
    readonly port: number,
  ) {}

  static async create(options: ServiceOptions): Promise<ServiceRole> {
    return new ServiceRole(options, await freePort());
  }

  get name(): string {
    return this.options.role;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  get exited(): Promise<ExitResult> | undefined {
    return this.proc?.exited;
  }

  tail(lines?: number): string {
    return this.proc?.tail(lines) ?? '';
  }

  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !SERVICE_VARIABLE.test(key)) env[key] = value;
    }
    return {
      ...env,
      ...CHAOS_SERVICE_ENV,
      ROLE: this.options.role,
      HOST: '127.0.0.1',
      PORT: String(this.port),
      DATA_DIR: this.options.dataDir,
      DATABASE_URL: this.options.databaseUrl,
      REDIS_URL: this.options.redisUrl,
      QUEUE_PREFIX: this.options.queuePrefix,
      CUSTOM_WEBHOOK_SECRET: this.options.secret,
    };
  }

  /** Starts the process and waits for GET /health/startup to answer 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.proc?.running) throw new Error(`${this.name} is already running (pid ${this.proc.pid})`);
    this.starts++;
    const proc = startProcess({
      name: `${this.name}#${this.starts}`,
      command: process.execPath,
      args: ['--import', 'tsx', 'src/server.ts'],
      cwd: REPO_ROOT,
      env: this.env(),
      logFile: join(this.options.logDir, `${this.name}.log`),
    });
    this.proc = proc;
    this.stopping = false;
    void proc.exited.then((exit) => {
      if (!this.stopping) this.crashes.push({ name: proc.name, pid: proc.pid, at: Date.now(), exit, tail: proc.tail(25) });
    });
    await waitUntil(`${proc.name} starts`, timeoutMs, async () => {
      if (!proc.running) {
        const { code, signal } = await proc.exited;
        throw new Error(`exited during start-up (code ${code}, signal ${signal}):\n${proc.tail()}`);
      }
      const res = await fetch(`${this.baseUrl}/health/startup`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    });
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000): Promise<ExitResult | undefined> {
    const proc = this.proc;
    if (!proc?.running) return undefined;
    this.stopping = true;
    return proc.stop(graceMs, signal);
  }

  /** The crashes since the last call (a process that exited although nobody stopped it). */
  takeUnexpectedExits(): UnexpectedExit[] {
    return this.crashes.splice(0);
  }
}

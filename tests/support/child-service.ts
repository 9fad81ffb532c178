import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/dev/free-port.js';
import { SECRETS } from './test-runtime.js';

/**
 * The real service as a child process (`node --import tsx src/server.ts`), for tests that must kill it with a
 * signal or watch it exit. Its output is kept in memory and shown when a test fails. The child logs at `warn`
 * unless CHILD_LOG_LEVEL says otherwise (e.g. CHILD_LOG_LEVEL=debug npx vitest run tests/faults).
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Variables the service reads: never inherited from the test's own environment, only set explicitly. */
const SERVICE_VARIABLE = /^(NODE_ENV|ROLE|HOST|PORT|DATA_DIR|QUEUE_PREFIX|LOG_LEVEL|DATABASE_|REDIS_|LANGFUSE_|LANGWATCH_|CUSTOM_|STANDARD_|WEBHOOK_|ENQUEUE_|PERSIST_|WORKER_|METRICS_|SHUTDOWN_|SENTRY_|LOKI_|TRUST_PROXY|ENABLE_FIRESTORE|FIRESTORE_|GOOGLE_|ADMIN_API_TOKEN|JWT_|API_RATE_LIMIT_|CORS_)/;

export interface ChildServiceOptions {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  role?: 'all' | 'api' | 'worker';
  /** Any other variables; they win over the defaults. */
  env?: Record<string, string>;
  /** How long to wait for GET /health/startup to answer 200. */
  startTimeoutMs?: number;
  /** A label for diagnostics (several children in one test). */
  name?: string;
}

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildService {
  name: string;
  pid: number;
  port: number;
  baseUrl: string;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<ExitResult>;
  /** Whether the process is still running. */
  readonly running: boolean;
  /** Everything the process wrote to stdout and stderr so far (the tail when it wrote a lot). */
  output(): string;
  kill(signal?: NodeJS.Signals): boolean;
  /** Ends the process if it still runs (SIGTERM, then SIGKILL after `graceMs`) and waits for it. */
  stop(graceMs?: number): Promise<ExitResult>;
}

const OUTPUT_LIMIT = 256 * 1024;

export async function startChildService(options: ChildServiceOptions): Promise<ChildService> {
  const port = await freePort();
  const name = options.name ?? options.role ?? 'all';
  const inherited: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !SERVICE_VARIABLE.test(key)) inherited[key] = value;
  }
  const env: Record<string, string> = {
    ...inherited,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    ROLE: options.role ?? 'all',
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    QUEUE_PREFIX: options.queuePrefix,
    LANGFUSE_WEBHOOK_SECRET: SECRETS.langfuse,
    LANGWATCH_WEBHOOK_SECRET: SECRETS.langwatch,
    CUSTOM_WEBHOOK_SECRET: SECRETS.custom,
    STANDARD_WEBHOOK_SECRET: SECRETS.standard,
    LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? 'warn',
    ...options.env,
  };

  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // spawn reports its failure asynchronously on 'error'
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot start the service: ${err.message}`);
  }
  const pid = child.pid;

  let buffer = '';
  const append = (stream: string) => (chunk: Buffer) => {
    buffer += chunk
      .toString('utf8')
      .split('\n')
      .map((line, i, all) => (i === all.length - 1 && line === '' ? '' : `[${name} ${stream}] ${line}`))
      .join('\n');
    if (buffer.length > OUTPUT_LIMIT) buffer = buffer.slice(buffer.length - OUTPUT_LIMIT);
  };
  child.stdout!.on('data', append('out'));
  child.stderr!.on('data', append('err'));

  let running = true;
  const exited = new Promise<ExitResult>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });

  const service: ChildService = {
    name,
    pid,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    exited,
    get running() {
      return running;
    },
    output: () => buffer,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (!running) return false;
      return child.kill(signal);
    },
    async stop(graceMs = 5000) {
      if (running) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (running) child.kill('SIGKILL');
        }, graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };

  try {
    await waitForStartup(service, options.startTimeoutMs ?? 45_000);
  } catch (err) {
    await service.stop(1000);
    throw new Error(`${(err as Error).message}\n--- output of ${name} (pid ${pid}) ---\n${buffer}`);
  }
  return service;
}

async function waitForStartup(service: ChildService, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!service.running) {
      const { code, signal } = await service.exited;
      throw new Error(`the service exited during start-up (code ${code}, signal ${signal})`);
    }
    try {
      const res = await fetch(`${service.baseUrl}/health/startup`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the service did not start within ${timeoutMs} ms (last: ${last})`);
}

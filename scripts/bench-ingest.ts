import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  type Child,
  freePort,
  processCpuMicros,
  processName,
  runToCompletion,
  startChild,
  stopAllChildren,
  waitForHttp,
  whileRunning,
} from './bench/children.js';
import type { LoadConfig, LoadReport, PhaseReport } from './bench/load.js';
import { createBodyFactory, TARGET_BODY_BYTES, traceIdOf } from './bench/payload.js';
import { summarizeCpuProfile, type ProfileSummary } from './bench/profile.js';
import { createDatabase, databaseUrlFor, dropDatabase, ScratchQueue } from './bench/scratch.js';
import { fixed, medianOf, table, thousands } from './bench/stats.js';

/**
 * `npm run bench:ingest`: bare Fastify against the real Vertigo Live ingest path, side by side on this
 * machine, and then how fast the persist worker turns the accepted events into rows.
 *
 *   1. `npm run build`, a scratch database `vertigo_bench_<random>` and a queue prefix of the run's own;
 *   2. two servers as child processes: bare Fastify (scripts/bench/bare-server.ts) and Vertigo
 *      (`node dist/server.js`, ROLE=api, LOG_LEVEL=warn, WEBHOOK_RATE_LIMIT_MAX=0);
 *   3. BENCH_ROUNDS rounds (default 3) of: bare, then Vertigo, each a warm-up and a measured run of autocannon
 *      in its own process (scripts/bench/load.ts), 50 connections, signed single-event `custom` webhooks
 *      with unique ids; after each Vertigo run a ROLE=worker child drains the queue, and the rows in
 *      live_traces are checked against the accepted requests;
 *   4. medians, the targets, and a JSON report in bench/results/ingest-<timestamp>.json;
 *   5. every child stopped, the queue obliterated, the scratch database dropped (also on failure).
 *
 * Environment: BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2), BENCH_ROUNDS (3), BENCH_CONNECTIONS (50),
 * BENCH_DATABASE_URL (admin connection, default DATABASE_URL or postgres://postgres@127.0.0.1:5432/test),
 * BENCH_REDIS_URL (default REDIS_URL or redis://127.0.0.1:6379), BENCH_SKIP_BUILD=1 (use dist/ as it is),
 * BENCH_SERVICE_ENV (extra variables for the Vertigo children, "NAME=value,NAME=value", e.g.
 * ENQUEUE_MAX_IN_FLIGHT=1 to compare a setting), BENCH_RATE_LIMIT_MAX (WEBHOOK_RATE_LIMIT_MAX of Vertigo, default 0 = limiter off; a value > 0 measures the
 * Redis-backed limiter too), BENCH_CPU_PROF=1 (profile the Vertigo API child with --cpu-prof and print its top self-time functions;
 * the profiler slows the server, so the figures of such a run are not comparable).
 */

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
const WEBHOOK_PATH = '/live-data/webhooks/custom';

const TARGET_RATIO = 0.4;
const TARGET_P99_MS = 20;

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

const settings = {
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
};

const runId = randomBytes(4).toString('hex');
const queuePrefix = `vbench-${runId}`;
const databaseName = `vertigo_bench_${runId}`;
const secret = randomBytes(24).toString('hex');
const profileDir = join(os.tmpdir(), `vertigo-bench-prof-${runId}`);

class BenchFailure extends Error {}

// --- output ------------------------------------------------------------------------------------------------

const say = (line = '') => process.stdout.write(`${line}\n`);
const loud = (text: string) => process.stdout.write(`\n!!!!!!!! ${text}\n\n`);

const LEVELS: Record<number | string, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const QUIET_FIELDS = new Set(['level', 'time', 'msg', 'service', 'role', 'version', 'pid', 'hostname']);

/** Echoes a child's pino lines of level warn and above (and anything that is not JSON), compactly. */
function echoLogLine(name: string, minLevel: 'info' | 'warn' = 'warn') {
  const rank = (level: string) => ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].indexOf(level);
  return (line: string) => {
    if (line.trim() === '') return;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      say(`  [${name}] ${line}`);
      return;
    }
    const level = String(LEVELS[entry.level as number] ?? entry.level ?? 'info');
    if (rank(level) < rank(minLevel)) return;
    const extra = Object.fromEntries(Object.entries(entry).filter(([k]) => !QUIET_FIELDS.has(k)));
    say(`  [${name}] ${level}: ${String(entry.msg ?? '')}${Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : ''}`);
  };
}

// --- the service's environment ------------------------------------------------------------------------------

/** Variables the service reads: never inherited from this shell, only set explicitly below. */
const SERVICE_VARIABLE =
  /^(NODE_ENV|ROLE|HOST|PORT|DATA_DIR|QUEUE_PREFIX|LOG_LEVEL|DATABASE_|REDIS_|LANGFUSE_|LANGWATCH_|CUSTOM_|STANDARD_|WEBHOOK_|ENQUEUE_|PERSIST_|WORKER_|METRICS_|SHUTDOWN_|SENTRY_)/;

function serviceEnv(databaseUrl: string, overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !SERVICE_VARIABLE.test(key) && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return {
    ...env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    REDIS_URL: settings.redisUrl,
    QUEUE_PREFIX: queuePrefix,
    CUSTOM_WEBHOOK_SECRET: secret,
    WEBHOOK_RATE_LIMIT_MAX: String(settings.rateLimitMax),
    LOG_LEVEL: 'warn',
    ...settings.serviceEnv,
    ...overrides,
  };
}

// --- one load run -------------------------------------------------------------------------------------------

type Variant = 'bare' | 'vertigo';

interface RunRecord {
  round: number;
  variant: Variant;
  warmup?: PhaseReport;
  measure: PhaseReport;
  /** Server CPU µs per answered request in the measured run. */
  cpuMicrosPerRequest?: number;
  /** Server CPU time / wall time of the measured run (1 = one core busy). */
  serverCores?: number;
  redisCpuMicrosPerRequest?: number;
  loaderCores: number;
}

async function runLoad(variant: Variant, round: number, server: Child, url: string, redisPid: number | undefined): Promise<RunRecord> {
  const config: LoadConfig = {
    label: `${variant}#${round}`,
    url,
    connections: settings.connections,
    warmupSeconds: settings.warmupSeconds,
    durationSeconds: settings.durationSeconds,
    secret,
    idPrefix: `${runId}${variant[0]}${round}`,
    serverPid: server.pid,
    ...(redisPid !== undefined && variant === 'vertigo' ? { redisPid } : {}),
  };
  const loader = startChild({
    name: `load-${variant}-${round}`,
    command: process.execPath,
    args: ['--import', 'tsx', 'scripts/bench/load.ts'],
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_LOAD: JSON.stringify(config) },
    ipc: true,
    onLine: (line) => say(`  [load] ${line}`),
  });
  const report = new Promise<LoadReport>((resolve, reject) => {
    loader.process.on('message', (message: LoadReport | { type: 'error'; message: string }) => {
      if (message.type === 'report') resolve(message);
      else reject(new Error(`load generator failed: ${message.message}`));
    });
  });
  const limitMs = (settings.warmupSeconds + settings.durationSeconds + 60) * 1000;
  const result = await Promise.race([
    whileRunning(loader, report, 'running the load'),
    whileRunning(server, sleep(limitMs).then(() => undefined), 'under load'),
  ]);
  if (!result) throw new Error(`load generator for ${variant} gave no report within ${limitMs} ms`);
  await loader.stop(5000);

  const warmup = result.phases.find((p) => p.phase === 'warmup');
  const measure = result.phases.find((p) => p.phase === 'measure')!;
  const answered = Math.max(1, measure.responses);
  const record: RunRecord = {
    round,
    variant,
    ...(warmup ? { warmup } : {}),
    measure,
    ...(measure.serverCpuMicros !== undefined
      ? { cpuMicrosPerRequest: measure.serverCpuMicros / answered, serverCores: measure.serverCpuMicros / 1e6 / measure.durationSeconds }
      : {}),
    ...(measure.redisCpuMicros !== undefined ? { redisCpuMicrosPerRequest: measure.redisCpuMicros / answered } : {}),
    loaderCores: measure.loaderCpuMicros / 1e6 / measure.durationSeconds,
  };
  say(
    `  round ${round} ${variant.padEnd(7)} ${thousands(measure.rps2xx).padStart(7)} req/s (2xx)` +
      `  p50 ${fixed(measure.latency.p50, 2)} ms  p99 ${fixed(measure.latency.p99, 2)} ms` +
      `  server ${fixed(record.cpuMicrosPerRequest, 1)} µs/req (${fixed((record.serverCores ?? NaN) * 100, 0)}% of a core)` +
      `  loader ${fixed(record.loaderCores * 100, 0)}%` +
      `  non-2xx ${measure.non2xx + (warmup?.non2xx ?? 0)}  errors ${measure.errors}`,
  );
  return record;
}

// --- draining the queue -------------------------------------------------------------------------------------

interface DrainRecord {
  round: number;
  jobs: number;
  events: number;
  eventsPerJob: number;
  /** From the worker's "started" log line to an empty queue. */
  drainSeconds: number;
  /** Including the worker's start (spawn to empty queue). */
  drainWithStartSeconds: number;
  rowsPerSecond: number;
  workerCpuMicrosPerRow?: number;
  /** CPU of the PostgreSQL backends serving the worker (application_name vertigo-worker), per row. */
  postgresCpuMicrosPerRow?: number;
  rowsTotal: number;
  webhookEventsTotal: number;
  acceptedTotal: number;
  unknownTotal: number;
  unknownPersisted: number;
  failedJobs: number;
  ok: boolean;
}

async function drainQueue(
  round: number,
  databaseUrl: string,
  queue: ScratchQueue,
  pool: pg.Pool,
  expected: { accepted: number; unknownEventIds: string[] },
): Promise<DrainRecord> {
  const countRows = async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM live_traces')).rows[0]!.n);
  const rowsBefore = await countRows();
  const before = await queue.counts();
  const port = await freePort();
  const spawnedAt = performance.now();
  let readyAt: number | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const echo = echoLogLine(`vertigo-worker`);
  const worker = startChild({
    name: `vertigo-worker-${round}`,
    command: process.execPath,
    args: [...(settings.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, `worker-${round}`)] : []), 'dist/server.js'],
    cwd: REPO_ROOT,
    env: serviceEnv(databaseUrl, { ROLE: 'worker', PORT: String(port), LOG_LEVEL: 'info' }),
    onLine: (line) => {
      if (readyAt === undefined && line.includes('"msg":"started"')) {
        readyAt = performance.now();
        markReady();
      }
      echo(line);
    },
  });
  try {
    // Ready when it logs "started" (exact time) or, should that line ever change, when /health/startup says so.
    const startup = waitForHttp(`http://127.0.0.1:${port}/health/startup`, (s) => s === 200, 60_000).then(() => {
      readyAt ??= performance.now();
    });
    startup.catch(() => undefined);
    await whileRunning(worker, Promise.race([ready, startup]), 'starting');
    const cpuBefore = processCpuMicros(worker.pid);
    let counts = before;
    let lastPending = Number.POSITIVE_INFINITY;
    let lastProgress = performance.now();
    for (;;) {
      counts = await whileRunning(worker, queue.counts(), 'draining');
      if (counts.pending === 0) break;
      if (counts.pending < lastPending) {
        lastPending = counts.pending;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > 60_000) {
        loud(`DRAIN STALLED: ${counts.pending} jobs still pending after 60 s without progress ${JSON.stringify(counts.byState)}`);
        break;
      }
      await sleep(50);
    }
    const drainedAt = performance.now();
    const cpuAfter = processCpuMicros(worker.pid);
    // The worker's backends were started by this worker (a new process each round): their whole CPU time is
    // this drain's, but for the few queries of its start (migrations check).
    const backends = await pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'vertigo-worker'",
    );
    const postgresCpu = backends.rows.reduce<number | undefined>((sum, r) => {
      const cpu = processCpuMicros(r.pid);
      return sum === undefined || cpu === undefined ? undefined : sum + cpu;
    }, backends.rows.length > 0 ? 0 : undefined);

    // A job completes only after its transaction committed, so the rows are there once the queue is empty.
    const unknownTraceIds = expected.unknownEventIds.map(traceIdOf);
    const unknownPersisted = Number(
      (
        await pool.query<{ n: string }>("SELECT count(*) AS n FROM live_traces WHERE source = 'custom' AND external_id = ANY($1::text[])", [
          unknownTraceIds,
        ])
      ).rows[0]!.n,
    );
    const rowsTotal = await countRows();
    const webhookEventsTotal = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM webhook_events')).rows[0]!.n);
    const rows = rowsTotal - rowsBefore;
    const drainSeconds = (drainedAt - (readyAt ?? spawnedAt)) / 1000;
    const expectedRows = expected.accepted + unknownPersisted;
    const ok = rowsTotal === expectedRows && webhookEventsTotal === rowsTotal && counts.failed === 0 && counts.pending === 0;
    const record: DrainRecord = {
      round,
      jobs: before.pending,
      events: rows,
      eventsPerJob: before.pending > 0 ? rows / before.pending : 0,
      drainSeconds,
      drainWithStartSeconds: (drainedAt - spawnedAt) / 1000,
      rowsPerSecond: drainSeconds > 0 ? rows / drainSeconds : 0,
      ...(cpuBefore !== undefined && cpuAfter !== undefined && rows > 0 ? { workerCpuMicrosPerRow: (cpuAfter - cpuBefore) / rows } : {}),
      ...(postgresCpu !== undefined && rows > 0 ? { postgresCpuMicrosPerRow: postgresCpu / rows } : {}),
      rowsTotal,
      webhookEventsTotal,
      acceptedTotal: expected.accepted,
      unknownTotal: expected.unknownEventIds.length,
      unknownPersisted,
      failedJobs: counts.failed,
      ok,
    };
    say(
      `  round ${round} drain   ${thousands(rows)} rows from ${thousands(before.pending)} jobs (${fixed(record.eventsPerJob, 1)} events/job)` +
        ` in ${fixed(drainSeconds, 2)} s = ${thousands(record.rowsPerSecond)} rows/s` +
        `  worker ${fixed(record.workerCpuMicrosPerRow, 1)} µs/row, postgres ${fixed(record.postgresCpuMicrosPerRow, 1)} µs/row  (start+drain ${fixed(record.drainWithStartSeconds, 2)} s)`,
    );
    const check =
      `live_traces ${thousands(rowsTotal)} rows, webhook_events ${thousands(webhookEventsTotal)}; accepted (2xx) ${thousands(expected.accepted)}` +
      ` + ${unknownPersisted} of ${expected.unknownEventIds.length} requests still in flight when the load stopped` +
      ` (no answer seen, so neither accepted nor refused) = ${thousands(expectedRows)} expected; failed jobs ${counts.failed}`;
    if (ok) say(`  round ${round} check   OK: ${check}`);
    else loud(`MISMATCH after round ${round}: ${check}; missing ${expectedRows - rowsTotal}`);
    return record;
  } finally {
    await worker.stop();
  }
}

// --- report -------------------------------------------------------------------------------------------------

function gitInfo(): { commit: string; dirty: boolean | undefined } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    let dirty: boolean | undefined;
    try {
      dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
    } catch {
      dirty = undefined;
    }
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: undefined };
  }
}

interface VariantSummary {
  variant: Variant;
  rps: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
  cpuMicrosPerRequest: number | undefined;
  serverCores: number | undefined;
  redisCpuMicrosPerRequest: number | undefined;
  loaderCores: number | undefined;
  non2xx: number;
}

function summarize(variant: Variant, runs: RunRecord[]): VariantSummary {
  const mine = runs.filter((r) => r.variant === variant);
  return {
    variant,
    rps: medianOf(mine.map((r) => r.measure.rps2xx)),
    p50: medianOf(mine.map((r) => r.measure.latency.p50)),
    p99: medianOf(mine.map((r) => r.measure.latency.p99)),
    cpuMicrosPerRequest: medianOf(mine.map((r) => r.cpuMicrosPerRequest)),
    serverCores: medianOf(mine.map((r) => r.serverCores)),
    redisCpuMicrosPerRequest: medianOf(mine.map((r) => r.redisCpuMicrosPerRequest)),
    loaderCores: medianOf(mine.map((r) => r.loaderCores)),
    non2xx: mine.reduce((sum, r) => sum + r.measure.non2xx + (r.warmup?.non2xx ?? 0), 0),
  };
}

function findProfile(dir: string): string | undefined {
  try {
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    return file ? join(dir, file) : undefined;
  } catch {
    return undefined;
  }
}

function printProfile(what: string, summary: ProfileSummary): void {
  say();
  say(`CPU profile of ${what} (${summary.file}), busy ${fixed(summary.busyMs, 0)} ms of ${fixed(summary.totalMs, 0)} ms:`);
  say(
    table(
      ['self %', 'self ms', 'function', 'location'],
      summary.top.map((e) => [fixed(e.selfPercent, 1), fixed(e.selfMs, 0), e.name, e.location]),
    ),
  );
  say();
  say('inclusive time by module group (% of busy time):');
  say(table(['incl %', 'ms', 'group'], summary.groups.map((g) => [fixed(g.percent, 1), fixed(g.ms, 0), g.group])));
}

// --- main ---------------------------------------------------------------------------------------------------

let cleaningUp: Promise<void> | undefined;
let databaseCreated = false;
let scratchQueue: ScratchQueue | undefined;
let pool: pg.Pool | undefined;

function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    await stopAllChildren();
    await pool?.end().catch(() => undefined);
    if (scratchQueue) {
      try {
        const stray = await scratchQueue.obliterate();
        say(`cleanup: queue "${queuePrefix}" obliterated${stray > 0 ? ` (${stray} stray keys deleted)` : ''}`);
      } catch (err) {
        say(`cleanup: cannot obliterate queue "${queuePrefix}": ${(err as Error).message}`);
      }
      await scratchQueue.close();
    }
    if (databaseCreated) {
      try {
        await dropDatabase(settings.adminDatabaseUrl, databaseName);
        say(`cleanup: database ${databaseName} dropped`);
      } catch (err) {
        say(`cleanup: cannot drop database ${databaseName}: ${(err as Error).message}`);
      }
    }
  })();
  return cleaningUp;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    say(`\n${signal}: stopping children and cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const git = gitInfo();
  const machine = {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  say(`Vertigo Live ingest benchmark ${startedAt.toISOString()}`);
  say(
    `  ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, commit ${git.commit}${git.dirty ? ' (+ uncommitted changes)' : ''},` +
      ` load average ${machine.loadAverageAtStart.join(' ')}`,
  );
  say(
    `  ${settings.rounds} rounds × (bare, vertigo), ${settings.connections} connections, warm-up ${settings.warmupSeconds} s,` +
      ` measured ${settings.durationSeconds} s, ~${settings.bodyBytes} B signed single-event custom webhooks`,
  );
  say(
    `  Vertigo: ROLE=api, LOG_LEVEL=warn, WEBHOOK_RATE_LIMIT_MAX=${settings.rateLimitMax}` +
      (settings.rateLimitMax > 0 ? ' (rate limiter ON, Redis-backed: one more Redis round trip per request)' : ' (limiter off)') +
      (Object.keys(settings.serviceEnv).length > 0 ? `, BENCH_SERVICE_ENV ${JSON.stringify(settings.serviceEnv)}` : ''),
  );
  if (settings.cpuProfile) say('  BENCH_CPU_PROF=1: the Vertigo API child runs under --cpu-prof; its figures are slowed by the profiler');
  say();

  if (settings.skipBuild) say('build: skipped (BENCH_SKIP_BUILD=1), using dist/ as it is');
  else {
    say('build: npm run build');
    await runToCompletion('build', 'npm', ['run', 'build', '--silent'], REPO_ROOT);
  }

  await createDatabase(settings.adminDatabaseUrl, databaseName);
  databaseCreated = true;
  const databaseUrl = databaseUrlFor(settings.adminDatabaseUrl, databaseName);
  scratchQueue = new ScratchQueue(settings.redisUrl, queuePrefix);
  const queue = scratchQueue;
  const redisPidCandidate = await queue.serverPid();
  const redisPid = redisPidCandidate !== undefined && processName(redisPidCandidate)?.includes('redis') ? redisPidCandidate : undefined;
  say(`scratch: database ${databaseName}, queue prefix ${queuePrefix}${redisPid ? `, redis-server pid ${redisPid}` : ''}`);

  // The two servers stay up for all rounds; each is idle while the other is measured.
  const barePort = await freePort();
  const bare = startChild({
    name: 'bare-fastify',
    command: process.execPath,
    args: ['--import', 'tsx', 'scripts/bench/bare-server.ts'],
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(barePort), HOST: '127.0.0.1' },
    onLine: (line) => {
      if (!line.startsWith('bare fastify listening')) say(`  [bare] ${line}`);
    },
  });
  const apiPort = await freePort();
  if (settings.cpuProfile) mkdirSync(profileDir, { recursive: true });
  const api = startChild({
    name: 'vertigo-api',
    command: process.execPath,
    args: [...(settings.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), 'dist/server.js'],
    cwd: REPO_ROOT,
    env: serviceEnv(databaseUrl, { ROLE: 'api', PORT: String(apiPort) }),
    onLine: echoLogLine('vertigo-api'),
  });
  const bareUrl = `http://127.0.0.1:${barePort}${WEBHOOK_PATH}`;
  const apiUrl = `http://127.0.0.1:${apiPort}${WEBHOOK_PATH}`;
  await whileRunning(bare, waitForHttp(`http://127.0.0.1:${barePort}/`, () => true, 30_000), 'starting');
  await whileRunning(api, waitForHttp(`http://127.0.0.1:${apiPort}/health/ready`, (s) => s === 200, 60_000), 'starting');
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'vertigo-bench' }); // the API child has run the migrations by now
  say(`servers: bare Fastify pid ${bare.pid} on :${barePort}, Vertigo (ROLE=api) pid ${api.pid} on :${apiPort}`);

  // One signed request to each before any load: a configuration problem shows here with its answer.
  let acceptedTotal = 0;
  const unknownEventIds: string[] = [];
  const probe = createBodyFactory(secret, `${runId}p`);
  for (const [name, url] of [['bare', bareUrl], ['vertigo', apiUrl]] as const) {
    const signed = probe.next();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': signed.signature },
      body: signed.body,
    });
    const text = await response.text();
    if (response.status === 429 && name === 'vertigo' && settings.rateLimitMax === 0) {
      throw new BenchFailure(
        `probe request to vertigo answered 429 with WEBHOOK_RATE_LIMIT_MAX=0: ${text.slice(0, 300)}\n` +
          '  This build of the service (dist/) does not treat 0 as "limiter off" (fixed in src/ingest/webhook.route.ts\n' +
          '  by f9f70ab): rebuild (drop BENCH_SKIP_BUILD), or measure with the Redis-backed limiter on:\n' +
          '  BENCH_RATE_LIMIT_MAX=10000000 npm run bench:ingest',
      );
    }
    if (response.status !== 202) throw new BenchFailure(`probe request to ${name} answered ${response.status}: ${text.slice(0, 500)}`);
    if (name === 'vertigo') acceptedTotal++;
  }
  say('probe: both servers answer 202 to a signed webhook');
  say();

  const runs: RunRecord[] = [];
  const drains: DrainRecord[] = [];
  let mismatch = false;
  for (let round = 1; round <= settings.rounds; round++) {
    runs.push(await runLoad('bare', round, bare, bareUrl, redisPid));
    const run = await runLoad('vertigo', round, api, apiUrl, redisPid);
    runs.push(run);
    for (const phase of [run.warmup, run.measure]) {
      if (!phase) continue;
      acceptedTotal += phase.ok2xx;
      unknownEventIds.push(...phase.unknownEventIds);
    }
    const refused = run.measure.non2xx + (run.warmup?.non2xx ?? 0);
    if (refused > 0) {
      const samples = [...(run.warmup?.non2xxSamples ?? []), ...run.measure.non2xxSamples].slice(0, 5);
      loud(`VERTIGO ANSWERED NON-2XX: ${refused} requests in round ${round}, status codes ${JSON.stringify(run.measure.statusCodes)}`);
      for (const s of samples) say(`  ${s.status} ${s.body}`);
      say(`  last output of the Vertigo API child:\n${api.tail(20)}`);
      throw new BenchFailure(`Vertigo answered ${refused} requests with non-2xx in round ${round}`);
    }
    if (run.measure.errors > 0) say(`  WARNING: ${run.measure.errors} connection errors/timeouts against Vertigo in round ${round}`);
    const drain = await drainQueue(round, databaseUrl, queue, pool, { accepted: acceptedTotal, unknownEventIds });
    drains.push(drain);
    if (!drain.ok) mismatch = true;
    say();
  }

  await api.stop();
  let profile: ProfileSummary | undefined;
  let workerProfile: ProfileSummary | undefined;
  if (settings.cpuProfile) {
    const apiFile = findProfile(profileDir);
    if (apiFile) profile = summarizeCpuProfile(apiFile);
    else say(`no .cpuprofile of the API child found in ${profileDir}`);
    const workerFile = findProfile(join(profileDir, `worker-${settings.rounds}`));
    if (workerFile) workerProfile = summarizeCpuProfile(workerFile);
  }

  // --- summary ---
  const bareSummary = summarize('bare', runs);
  const vertigoSummary = summarize('vertigo', runs);
  const ratio = bareSummary.rps && vertigoSummary.rps !== undefined ? vertigoSummary.rps / bareSummary.rps : undefined;
  const cpuRatio =
    bareSummary.cpuMicrosPerRequest !== undefined && vertigoSummary.cpuMicrosPerRequest
      ? bareSummary.cpuMicrosPerRequest / vertigoSummary.cpuMicrosPerRequest
      : undefined;
  const perRoundRatios = Array.from({ length: settings.rounds }, (_, i) => {
    const b = runs.find((r) => r.variant === 'bare' && r.round === i + 1);
    const v = runs.find((r) => r.variant === 'vertigo' && r.round === i + 1);
    return b && v && b.measure.rps2xx > 0 ? v.measure.rps2xx / b.measure.rps2xx : undefined;
  });

  say(`Medians of ${settings.rounds} interleaved runs, ${settings.connections} connections, ${settings.durationSeconds} s each:`);
  const rows = [bareSummary, vertigoSummary].map((s) => [
    s.variant === 'bare' ? 'bare Fastify (202)' : 'Vertigo Live (ROLE=api)',
    thousands(s.rps),
    fixed(s.p50, 2),
    fixed(s.p99, 2),
    fixed(s.cpuMicrosPerRequest, 1),
    s.variant === 'bare' ? '1.00' : fixed(ratio, 2),
    fixed((s.serverCores ?? NaN) * 100, 0),
    fixed(s.redisCpuMicrosPerRequest, 1),
    fixed((s.loaderCores ?? NaN) * 100, 0),
    String(s.non2xx),
  ]);
  say(
    table(
      ['variant', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'ratio', 'server %cpu', 'redis µs/req', 'loader %cpu', 'non-2xx'],
      rows,
    ),
  );
  say(`  per-round ratios: ${perRoundRatios.map((r) => fixed(r, 2)).join(', ')}`);
  say(
    `  CPU-based ratio (bare µs/req ÷ Vertigo µs/req, what the req/s ratio would be with both servers CPU-bound on one core): ${fixed(cpuRatio, 2)}`,
  );
  say();
  const persistRps = medianOf(drains.map((d) => d.rowsPerSecond));
  say('Persist (ROLE=worker child after each Vertigo run):');
  say(
    table(
      ['round', 'rows', 'jobs', 'events/job', 'drain s', 'rows/s', 'worker µs/row', 'postgres µs/row', 'check'],
      drains.map((d) => [
        String(d.round),
        thousands(d.events),
        thousands(d.jobs),
        fixed(d.eventsPerJob, 1),
        fixed(d.drainSeconds, 2),
        thousands(d.rowsPerSecond),
        fixed(d.workerCpuMicrosPerRow, 1),
        fixed(d.postgresCpuMicrosPerRow, 1),
        d.ok ? 'OK' : 'MISMATCH',
      ]),
    ),
  );
  say(`  median persist rate ${thousands(persistRps)} rows/s`);
  say();

  const ratioOk = ratio !== undefined && ratio >= TARGET_RATIO;
  const p99Ok = vertigoSummary.p99 !== undefined && vertigoSummary.p99 < TARGET_P99_MS;
  say('Targets (Vertigo, medians):');
  say(`  ratio to bare Fastify ≥ ${fixed(TARGET_RATIO, 2)}: ${fixed(ratio, 2)}  ${ratioOk ? 'OK' : 'MISSED'}`);
  say(`  p99 < ${TARGET_P99_MS} ms at ${settings.connections} connections: ${fixed(vertigoSummary.p99, 2)} ms  ${p99Ok ? 'OK' : 'MISSED'}`);
  const loaderBusy = Math.max(bareSummary.loaderCores ?? 0, vertigoSummary.loaderCores ?? 0);
  if (loaderBusy > 0.9) {
    say(
      `  note: the load generator used ${fixed(loaderBusy * 100, 0)}% of a core; on ${machine.cores} cores it competes with the server,` +
        ' so the bare figure (and hence the ratio) may be load-generator bound',
    );
  }
  if (settings.cpuProfile) say('  note: BENCH_CPU_PROF=1, the Vertigo figures above are slowed by the profiler');
  if (profile) printProfile('the Vertigo API child (whole life: start, warm-ups, measured runs, idle)', profile);
  if (workerProfile) printProfile(`the Vertigo worker child of round ${settings.rounds} (start and drain)`, workerProfile);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `ingest-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const strip = (p: PhaseReport | undefined) => p && { ...p, unknownEventIds: p.unknownEventIds.length };
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        benchmark: 'ingest',
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        machine,
        git,
        settings: { ...settings, adminDatabaseUrl: undefined, redisUrl: undefined, path: WEBHOOK_PATH, queuePrefix, databaseName },
        targets: {
          ratio: { target: TARGET_RATIO, value: ratio, ok: ratioOk },
          p99Ms: { target: TARGET_P99_MS, value: vertigoSummary.p99, ok: p99Ok },
        },
        medians: { bare: bareSummary, vertigo: vertigoSummary, ratio, perRoundRatios, cpuRatio },
        runs: runs.map((r) => ({ ...r, warmup: strip(r.warmup), measure: strip(r.measure) })),
        persist: { medianRowsPerSecond: persistRps, drains },
        verification: { ok: !mismatch, acceptedTotal },
        ...(profile ? { profile } : {}),
        ...(workerProfile ? { workerProfile } : {}),
      },
      null,
      2,
    )}\n`,
  );
  say();
  say(`results: ${file}`);
  if (mismatch) {
    loud('MISMATCH: rows in live_traces do not match the accepted requests (see above)');
    return 1;
  }
  return 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  if (interrupted) await new Promise(() => undefined); // the signal handler cleans up and exits
  const message = err instanceof BenchFailure ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  loud(`BENCHMARK FAILED: ${message}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);

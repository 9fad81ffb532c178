import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpathSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../src/dev/free-port.js';
import { PROPERTIES } from '../tests/fuzz/arbitraries.js';
import { CORPUS } from '../tests/fuzz/corpus.js';
import { FUZZ_SECRET_ENV } from '../tests/fuzz/wire.js';
import { auditStorage, waitForDrain } from './fuzz/audit.js';
import { HEAP_PROBE_FLAGS, heapAfterGc, heapFile, heapGrowthLimit, sampleRss, slopePerMinute } from './fuzz/heap.js';
import { Ledger } from './fuzz/ledger.js';
import { runCorpus, runProperty, type Target } from './fuzz/run.js';
/**
 * `npm run fuzz -- --requests 100000`: the webhook fuzzer's long run, and the runner tests/fuzz shares.
 *
 * Starts the service as a child process (`node --expose-gc --import tsx src/server.ts`, ROLE=all) against a
 * scratch database on DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; dropped afterwards) and
 * REDIS_URL (default redis://127.0.0.1:6379) under a queue prefix of its own (its keys deleted afterwards),
 * with WEBHOOK_RATE_LIMIT_MAX=0. Then, in cycles until --requests have been sent, with --concurrency requests
 * in flight: the whole hand-written corpus (tests/fuzz/corpus.ts) and every fast-check property
 * (tests/fuzz/arbitraries.ts). Every reply is checked (no 5xx, the documented status, the error shape with a
 * code and a message that names the problem); at the end, once the queue has drained, every row in
 * webhook_events, live_traces and live_trace_tombstones must trace back to a request answered 202, and every
 * accepted event must be stored and not failed. The child's RSS is sampled every second from /proc; its heap
 * is measured after forced GCs (SIGUSR2 to a preloaded probe) after the first cycle and at the end.
 *
 * Options: --requests N (20000), --concurrency N (8), --seed N (random), --timeout ms (30000),
 * Exits 1 on any violation, printing fast-check's minimal counterexample with its seed, and a snippet that
 * sends the same bytes.
 */

/** The service settings under fuzz (besides the secrets): no rate limit, failing writes given up quickly. */
export const FUZZ_SERVICE_ENV: Record<string, string> = {
  ...FUZZ_SECRET_ENV,
  WEBHOOK_RATE_LIMIT_MAX: '0',
  PERSIST_MAX_ATTEMPTS: '2',
  PERSIST_BACKOFF_MS: '10',
  PERSIST_MAX_BACKOFF_MS: '100',
};

// ---- the long run -------------------------------------------------------------------------------------------

interface Args {
  requests: number;
  concurrency: number;
  seed: number;
  timeoutMs: number;
}

export function parseFuzzArgs(argv: readonly string[]): Args {
  const args: Args = { requests: 20_000, concurrency: 8, seed: Math.floor(Math.random() * 2 ** 31), timeoutMs: 30_000 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2);
    const value = () => Number(inline ?? argv[++i]);
    if (flag === '--requests') args.requests = value();
    else if (flag === '--concurrency') args.concurrency = value();
    else if (flag === '--seed') args.seed = value();
    else if (flag === '--timeout') args.timeoutMs = value();
    else throw new Error(`unknown option ${argv[i]}; expected --requests N, --concurrency N, --seed N, --timeout ms`);
  }
  for (const [key, flag] of [['requests', '--requests'], ['concurrency', '--concurrency'], ['seed', '--seed'], ['timeoutMs', '--timeout']] as const) {
    if (!Number.isInteger(args[key]) || args[key] < (key === 'seed' ? 0 : 1)) throw new Error(`${flag} must be a positive integer`);
  }
  return args;
}

const say = (line = '') => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const cleanups: (() => Promise<unknown>)[] = [];

async function startService(databaseUrl: string, redisUrl: string, queuePrefix: string, heap: string) {
  const port = await freePort();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_ENV|ROLE|PORT|QUEUE_PREFIX|DATABASE_|REDIS_|WEBHOOK_|PERSIST_|[A-Z]+_WEBHOOK_SECRET)/.test(k)));
  const child: ChildProcess = spawn(process.execPath, [...HEAP_PROBE_FLAGS, '--import', 'tsx', 'src/server.ts'], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    env: { ...inherited, ...FUZZ_SERVICE_ENV, NODE_ENV: 'test', ROLE: 'all', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, QUEUE_PREFIX: queuePrefix, FUZZ_HEAP_FILE: heap },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => { output = (output + chunk.toString('utf8')).slice(-200_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => { exit = `code ${code}, signal ${signal}`; resolve(); }));
  cleanups.push(async () => { if (!exit) { child.kill('SIGTERM'); await Promise.race([exited, sleep(10_000)]); if (!exit) child.kill('SIGKILL'); } });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (exit || Date.now() > deadline) throw new Error(`the service did not start (${exit ?? 'timeout'}):\n${output}`);
    const res = await fetch(`${baseUrl}/health/startup`).catch(() => undefined);
    if (res?.status === 200) break;
  }
  return { pid: child.pid!, baseUrl, output: () => output, exit: () => exit };
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseFuzzArgs(argv);
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const name = `vertigo_fuzz_${randomBytes(5).toString('hex')}`;
  const queuePrefix = `vt-fuzz-${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  cleanups.push(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
  cleanups.push(async () => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    for (let cursor = '0'; ;) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      if ((cursor = next) === '0') break;
    }
    redis.disconnect();
  });
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  const heap = heapFile();
  cleanups.push(async () => rmSync(heap, { force: true }));
  const service = await startService(databaseUrl, redisUrl, queuePrefix, heap);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  cleanups.push(() => pool.end());
  const rss = sampleRss(service.pid);
  const ledger = new Ledger();
  const target: Target = { baseUrl: service.baseUrl, ledger, timeoutMs: args.timeoutMs, alive: () => !service.exit() };
  say(`fuzzing ${service.baseUrl} (pid ${service.pid}, database ${name}, queue prefix ${queuePrefix}): ${args.requests} requests, `
    + `concurrency ${args.concurrency}, seed ${args.seed}; corpus of ${CORPUS.length} entries, ${PROPERTIES.length} properties`);

  const perCycle = CORPUS.length * 5;
  const runs = Math.max(args.concurrency, Math.floor((perCycle - CORPUS.length) / PROPERTIES.length));
  const heapSeries: number[] = [];
  let heapStart: NodeJS.MemoryUsage | undefined;
  const started = Date.now();
  for (let cycle = 0; ledger.requests < args.requests && target.alive(); cycle++) {
    await runCorpus(target, args.concurrency);
    for (const [i, property] of PROPERTIES.entries()) {
      if (ledger.requests >= args.requests || !target.alive()) break;
      await runProperty(target, property, runs, args.seed + cycle * 1000 + i * 64, args.concurrency);
    }
    if (!target.alive()) break;
    if (!heapStart) await waitForDrain(service.baseUrl);
    const usage = await heapAfterGc(service.pid, heap);
    heapStart ??= usage;
    heapSeries.push(usage.heapUsed);
    say(`  cycle ${cycle + 1}: ${ledger.requests} requests in ${((Date.now() - started) / 1000).toFixed(0)} s, heap after GC ${mb(usage.heapUsed)}, `
      + `RSS ${rss.samples.at(-1)?.toFixed(1)} MB, violations ${ledger.violations.length}`);
  }

  let heapEnd: NodeJS.MemoryUsage | undefined;
  if (target.alive()) {
    const jobs = await waitForDrain(service.baseUrl);
    await sleep(1000); // failed jobs mark their events a moment after the job fails
    heapEnd = await heapAfterGc(service.pid, heap);
    const statuses = await auditStorage(pool, ledger);
    say(`webhook_events by status: ${JSON.stringify(statuses)}; persist jobs: ${JSON.stringify(jobs)}`);
    if (heapStart && heapEnd.heapUsed - heapStart.heapUsed > heapGrowthLimit(heapStart.heapUsed)) {
      ledger.violation('memory', `heap after GC grew from ${mb(heapStart.heapUsed)} to ${mb(heapEnd.heapUsed)}`);
    }
  } else {
    ledger.violation('crash', `the service exited (${service.exit()}) during the run; its output:\n${service.output().slice(-20_000)}`);
  }
  rss.stop();

  say();
  say(`requests: ${ledger.requests} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  say('replies:');
  for (const [key, n] of [...ledger.replies].sort((a, b) => b[1] - a[1])) say(`  ${String(n).padStart(7)}  ${key}`);
  const s = rss.samples;
  const half = s.slice(Math.floor(s.length / 2));
  say(`RSS (MB, ${s.length} samples): first ${s[0]?.toFixed(1)}, last ${s.at(-1)?.toFixed(1)}, peak ${Math.max(...s).toFixed(1)}, `
    + `slope over the second half ${slopePerMinute(half).toFixed(2)} MB/min`);
  if (heapStart && heapEnd) say(`heap after GC: ${mb(heapStart.heapUsed)} after the first cycle, ${mb(heapEnd.heapUsed)} at the end (series: ${heapSeries.map(mb).join(', ')})`);
  const errors = service.output().split('\n').filter((l) => /"level":("error"|"fatal"|50|60)/.test(l));
  if (errors.length > 0) say(`the last 200 KB of the service's output hold ${errors.length} error lines, e.g.:\n  ${errors.slice(-3).map((l) => l.slice(0, 400)).join('\n  ')}`);
  for (const v of ledger.violations.slice(0, 20)) say(`\nVIOLATION ${v.label}:\n  ${v.problems.join('\n  ').slice(0, 6000)}`);
  if (ledger.violations.length > 20) say(`\n... and ${ledger.violations.length - 20} more violations`);
  const failed = ledger.violations.length > 0;
  say(`\n${failed ? 'FAILED' : 'PASSED'}: ${ledger.violations.length} violations (seed ${args.seed})`);
  return failed ? 1 : 0;
}

async function cleanup(): Promise<void> {
  // Last registered, first undone: the pool, the service, the heap file, the Redis keys, the database.
  for (const step of cleanups.splice(0).reverse()) await step().catch((err: Error) => say(`cleanup: ${err.message}`));
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  main(process.argv.slice(2))
    .catch((err: unknown) => {
      say(`fuzz: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      return 1;
    })
    .then(async (code) => {
      await cleanup();
      process.exit(code);
    });
}

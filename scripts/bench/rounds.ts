import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { type Child, startChild, whileRunning } from './children.js';
import type { LoadConfig, LoadMessage, LoadReport, PhaseReport } from './load.js';
import { BenchFailure, loud, say } from './output.js';
import { drainQueue, type DrainRecord, type Expected } from './persist-drain.js';
import type { Scratch } from './scratch-lifecycle.js';
import type { Servers } from './servers.js';
import { REPO_ROOT, runId, secret, settings } from './settings.js';
import { fixed, percent, thousands } from './stats.js';

/**
 * The measurement rounds: BENCH_ROUNDS times bare Fastify, then Vertigo, each a warm-up and a measured run of
 * the load generator in its own process (scripts/bench/load.ts); after each Vertigo run the persist queue is
 * drained and the rows checked. Any non-2xx answer of Vertigo ends the benchmark.
 */

export type Variant = 'bare' | 'vertigo';

export interface RunRecord {
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

export interface Rounds {
  runs: RunRecord[];
  drains: DrainRecord[];
  /** Some drain found rows that do not match the accepted requests. */
  mismatch: boolean;
  /** Requests Vertigo answered 2xx over the whole run, the probe included. */
  acceptedTotal: number;
}

/** Non-2xx answers of a run, warm-up included. */
export const refusedCount = (run: RunRecord): number => run.measure.non2xx + (run.warmup?.non2xx ?? 0);

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
    loader.process.on('message', (message: LoadMessage) => {
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
      `  server ${fixed(record.cpuMicrosPerRequest, 1)} µs/req (${percent(record.serverCores)}% of a core)` +
      `  loader ${percent(record.loaderCores)}%` +
      `  non-2xx ${refusedCount(record)}  errors ${measure.errors}`,
  );
  return record;
}

/** `acceptedByProbe`: requests Vertigo accepted before the rounds (rows the drains will find too). */
export async function runRounds(servers: Servers, scratch: Scratch, pool: pg.Pool, acceptedByProbe: number): Promise<Rounds> {
  const expected: Expected = { accepted: acceptedByProbe, unknownEventIds: [] };
  const runs: RunRecord[] = [];
  const drains: DrainRecord[] = [];
  let mismatch = false;
  for (let round = 1; round <= settings.rounds; round++) {
    runs.push(await runLoad('bare', round, servers.bare, servers.bareUrl, scratch.redisPid));
    const run = await runLoad('vertigo', round, servers.api, servers.apiUrl, scratch.redisPid);
    runs.push(run);
    for (const phase of [run.warmup, run.measure]) {
      if (!phase) continue;
      expected.accepted += phase.ok2xx;
      expected.unknownEventIds.push(...phase.unknownEventIds);
    }
    const refused = refusedCount(run);
    if (refused > 0) {
      const samples = [...(run.warmup?.non2xxSamples ?? []), ...run.measure.non2xxSamples].slice(0, 5);
      loud(`VERTIGO ANSWERED NON-2XX: ${refused} requests in round ${round}, status codes ${JSON.stringify(run.measure.statusCodes)}`);
      for (const s of samples) say(`  ${s.status} ${s.body}`);
      say(`  last output of the Vertigo API child:\n${servers.api.tail(20)}`);
      throw new BenchFailure(`Vertigo answered ${refused} requests with non-2xx in round ${round}`);
    }
    if (run.measure.errors > 0) say(`  WARNING: ${run.measure.errors} connection errors/timeouts against Vertigo in round ${round}`);
    const drain = await drainQueue(round, scratch.databaseUrl, scratch.queue, pool, { ...expected });
    drains.push(drain);
    if (!drain.ok) mismatch = true;
    say();
  }
  return { runs, drains, mismatch, acceptedTotal: expected.accepted };
}

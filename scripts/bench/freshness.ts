import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { type Child, freePort, waitForHttp, whileRunning } from './children.js';
import { FreshnessProbe, type FreshnessFigures } from './freshness-probe.js';
import { BenchFailure, echoLogLine, loud, say } from './output.js';
import { refusedCount, runLoad, type RunRecord } from './rounds.js';
import type { Scratch } from './scratch-lifecycle.js';
import type { Servers } from './servers.js';
import { runId, settings, standardSecret } from './settings.js';
import { fixed, thousands } from './stats.js';
import { startVertigo, workerProfileDir } from './vertigo-service.js';

/**
 * Freshness under load: a ROLE=worker child runs next to the API (it stays up for the scrape phase, with
 * METRICS_MAX_MODELS raised), the single-event load of the ingest runs goes on for BENCH_DURATION (at
 * BENCH_FRESH_RATE req/s when set), and the probe (freshness-probe.ts) measures 202 → row and 202 → /metrics.
 * Only probes answered while the load ran count as "under load"; afterwards the phase waits for the queue to
 * be empty again.
 */

export interface LongWorker {
  child: Child;
  metricsUrl: string;
  maxModels: number;
}

export async function startLongWorker(databaseUrl: string, maxModels: number): Promise<LongWorker> {
  const port = await freePort();
  const child = startVertigo({
    name: 'vertigo-worker-fresh',
    databaseUrl,
    env: { ROLE: 'worker', PORT: String(port), METRICS_MAX_MODELS: String(maxModels) },
    cpuProfileDir: workerProfileDir('fresh'),
    onLine: echoLogLine('vertigo-worker'),
  });
  await whileRunning(child, waitForHttp(`http://127.0.0.1:${port}/health/ready`, (s) => s === 200, 60_000), 'starting');
  return { child, metricsUrl: `http://127.0.0.1:${port}/metrics`, maxModels };
}

export interface FreshnessResult {
  load: RunRecord;
  /** Probes answered while the load ran. */
  underLoad: FreshnessFigures;
  /** Every probe, also those before the load started and after it stopped. */
  all: FreshnessFigures;
  probesSent: number;
  probesRefused: number;
  probeErrors: string[];
  /** Jobs waiting when the load stopped, and how long the worker then took to empty the queue. */
  backlogJobsAtEnd: number;
  catchUpSeconds: number;
}

export async function runFreshness(servers: Servers, scratch: Scratch, pool: pg.Pool, worker: LongWorker): Promise<FreshnessResult> {
  const probe = new FreshnessProbe({
    url: new URL('/live-data/webhooks/standard', servers.apiUrl).toString(),
    secret: standardSecret,
    workerMetricsUrl: worker.metricsUrl,
    pool,
    idPrefix: runId,
    intervalMs: settings.probeIntervalMs,
    pollMs: settings.pollMs,
  });
  probe.start();
  const load = await whileRunning(
    worker.child,
    runLoad('vertigo', 0, servers.api, servers.apiUrl, scratch.redisPid, {
      scenario: { name: 'freshness', tag: 'f', connections: settings.connections, eventsPerRequest: 1, drain: false },
      label: 'freshness',
      warmupSeconds: 0,
      ...(settings.freshRate > 0 ? { overallRate: settings.freshRate } : {}),
    }),
    'under load',
  );
  const backlogJobsAtEnd = (await scratch.queue.counts()).pending;
  const loadEnd = Date.now();
  await probe.finish(120_000);
  // The queue empties (the load's own events): the next phase starts from an idle service.
  for (let waited = 0; (await scratch.queue.counts()).pending > 0; waited += 100) {
    if (waited > 300_000) throw new BenchFailure('freshness: the worker did not empty the queue within 300 s after the load');
    await sleep(100);
  }
  const catchUpSeconds = (Date.now() - loadEnd) / 1000;
  if (refusedCount(load) > 0) loud(`freshness: Vertigo refused ${refusedCount(load)} requests of the load ${JSON.stringify(load.measure.statusCodes)}`);
  const result: FreshnessResult = {
    load,
    underLoad: probe.figures(load.measure.startedAt, load.measure.endedAt),
    all: probe.figures(),
    probesSent: probe.probes.length,
    probesRefused: probe.refused.length,
    probeErrors: probe.errors.slice(0, 10),
    backlogJobsAtEnd,
    catchUpSeconds,
  };
  const f = result.underLoad;
  say(
    `  freshness: ${f.probes} probes under load (${result.probesSent} sent, ${result.probesRefused} refused):` +
      ` 202 → row p50 ${fixed(f.toRow.p50, 0)} ms p99 ${fixed(f.toRow.p99, 0)} ms, 202 → /metrics p50 ${fixed(f.toMetrics.p50, 0)} ms p99 ${fixed(f.toMetrics.p99, 0)} ms` +
      (f.missingRow + f.missingMetrics > 0 ? `, MISSING ${f.missingRow} rows / ${f.missingMetrics} counts` : ''),
  );
  say(`  freshness: ${thousands(backlogJobsAtEnd)} jobs waiting when the load stopped; queue empty ${fixed(catchUpSeconds, 1)} s later`);
  if (result.probeErrors.length > 0) say(`  freshness probe errors: ${result.probeErrors.join(' | ')}`);
  say();
  return result;
}

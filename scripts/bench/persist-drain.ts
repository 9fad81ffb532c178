import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { freePort, processCpuMicros, waitForHttp, whileRunning } from './children.js';
import { scrape, seriesValue } from './metrics-text.js';
import { echoLogLine, loud, say } from './output.js';
import { traceIdOf } from './payload.js';
import type { ScratchQueue } from './scratch.js';
import { fixed, thousands } from './stats.js';
import { startVertigo, workerProfileDir } from './vertigo-service.js';

/**
 * After each Vertigo run: a ROLE=worker child drains the persist queue (timed from its "started" log line to
 * an empty queue), and then the rows in live_traces and webhook_events are checked against the requests
 * Vertigo accepted so far.
 */

export interface DrainRecord {
  round: number;
  /** Which run filled the queue (`npm run bench`: the scenario, or `persist`). */
  label?: string;
  jobs: number;
  events: number;
  eventsPerJob: number;
  /** From the worker's "started" log line to an empty queue. */
  drainSeconds: number;
  /** Including the worker's start (spawn to empty queue). */
  drainWithStartSeconds: number;
  rowsPerSecond: number;
  /** Events per database transaction (mean), from the worker's own vertigo_persist_batch_events. */
  eventsPerTransaction?: number;
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

/** What the rows are checked against: every request Vertigo answered 2xx, and those whose answer was never seen. */
export interface Expected {
  accepted: number;
  unknownEventIds: string[];
}

const countOf = async (pool: pg.Pool, sql: string, values?: unknown[]): Promise<number> =>
  Number((await pool.query<{ n: string }>(sql, values)).rows[0]!.n);

export async function drainQueue(
  round: number,
  databaseUrl: string,
  queue: ScratchQueue,
  pool: pg.Pool,
  expected: Expected,
  label?: string,
): Promise<DrainRecord> {
  const tag = label ? (round > 0 ? `round ${round} ${label}` : label) : `round ${round}`;
  const countRows = () => countOf(pool, 'SELECT count(*) AS n FROM live_traces');
  const rowsBefore = await countRows();
  const before = await queue.counts();
  const port = await freePort();
  const spawnedAt = performance.now();
  let readyAt: number | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const echo = echoLogLine(`vertigo-worker`);
  const worker = startVertigo({
    name: `vertigo-worker-${label ? `${round}-${label}` : round}`,
    databaseUrl,
    env: { ROLE: 'worker', PORT: String(port), LOG_LEVEL: 'info' },
    cpuProfileDir: workerProfileDir(label ? `${round}-${label}` : round),
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
    const metrics = await scrape(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
    const transactions = metrics ? seriesValue(metrics, 'vertigo_persist_batch_events_count') : 0;
    const eventsPerTransaction = metrics && transactions > 0 ? seriesValue(metrics, 'vertigo_persist_batch_events_sum') / transactions : undefined;
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
    const unknownPersisted = await countOf(
      pool,
      "SELECT count(*) AS n FROM live_traces WHERE source = 'custom' AND external_id = ANY($1::text[])",
      [unknownTraceIds],
    );
    const rowsTotal = await countRows();
    const webhookEventsTotal = await countOf(pool, 'SELECT count(*) AS n FROM webhook_events');
    const rows = rowsTotal - rowsBefore;
    const drainSeconds = (drainedAt - (readyAt ?? spawnedAt)) / 1000;
    const expectedRows = expected.accepted + unknownPersisted;
    const ok = rowsTotal === expectedRows && webhookEventsTotal === rowsTotal && counts.failed === 0 && counts.pending === 0;
    const record: DrainRecord = {
      round,
      ...(label ? { label } : {}),
      jobs: before.pending,
      events: rows,
      eventsPerJob: before.pending > 0 ? rows / before.pending : 0,
      drainSeconds,
      drainWithStartSeconds: (drainedAt - spawnedAt) / 1000,
      rowsPerSecond: drainSeconds > 0 ? rows / drainSeconds : 0,
      ...(eventsPerTransaction !== undefined ? { eventsPerTransaction } : {}),
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
      `  ${tag} drain   ${thousands(rows)} rows from ${thousands(before.pending)} jobs (${fixed(record.eventsPerJob, 1)} events/job)` +
        ` in ${fixed(drainSeconds, 2)} s = ${thousands(record.rowsPerSecond)} rows/s, ${fixed(record.eventsPerTransaction, 0)} events/transaction` +
        `  worker ${fixed(record.workerCpuMicrosPerRow, 1)} µs/row, postgres ${fixed(record.postgresCpuMicrosPerRow, 1)} µs/row  (start+drain ${fixed(record.drainWithStartSeconds, 2)} s)`,
    );
    const check =
      `live_traces ${thousands(rowsTotal)} rows, webhook_events ${thousands(webhookEventsTotal)}; accepted (2xx) ${thousands(expected.accepted)}` +
      ` + ${unknownPersisted} of ${expected.unknownEventIds.length} requests still in flight when the load stopped` +
      ` (no answer seen, so neither accepted nor refused) = ${thousands(expectedRows)} expected; failed jobs ${counts.failed}`;
    if (ok) say(`  ${tag} check   OK: ${check}`);
    else loud(`MISMATCH after ${tag}: ${check}; missing ${expectedRows - rowsTotal}`);
    return record;
  } finally {
    await worker.stop();
  }
}

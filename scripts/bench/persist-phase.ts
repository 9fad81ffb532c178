import type pg from 'pg';
import { checkpoint, copyBaseline, type CopyRecord } from './copy-baseline.js';
import { say } from './output.js';
import { drainQueue, type DrainRecord } from './persist-drain.js';
import { prefillQueue } from './persist-prefill.js';
import type { Scratch } from './scratch-lifecycle.js';
import { runId, settings } from './settings.js';
import { fixed, median, thousands } from './stats.js';

/**
 * Persist, BENCH_ROUNDS times: empty tables, BENCH_PERSIST_EVENTS events put on the queue (jobs of
 * BENCH_PERSIST_JOB_EVENTS events), a ROLE=worker child drains them (rows/s, rows checked), then the same rows
 * go into scratch tables by raw COPY (rows/s). The ratio is worker ÷ COPY.
 */

export interface PersistRound {
  round: number;
  prefillSeconds: number;
  drain: DrainRecord;
  copy: CopyRecord;
  ratio: number;
}

export interface PersistResult {
  rounds: PersistRound[];
  workerRowsPerSecond: number;
  copyRowsPerSecond: number;
  /** Median of the per-round ratios. */
  ratio: number;
  checkpointed: boolean;
  ok: boolean;
}

export async function runPersist(scratch: Scratch, pool: pg.Pool): Promise<PersistResult> {
  const rounds: PersistRound[] = [];
  let checkpointed = true;
  for (let round = 1; round <= settings.rounds; round++) {
    const left = await scratch.queue.counts();
    if (left.pending > 0) {
      say(`  persist round ${round}: WARNING ${left.pending} jobs left on the queue by an earlier phase: removed`);
      await scratch.queue.queue.drain(true);
    }
    await pool.query('TRUNCATE live_traces, webhook_events, live_trace_tombstones');
    const prefill = await prefillQueue(scratch.databaseUrl, scratch.queue, settings.persistEvents, settings.persistJobEvents, `${runId}P${round}`);
    const counts = await scratch.queue.counts();
    say(
      `  persist round ${round}: ${thousands(prefill.events)} events queued in ${thousands(counts.pending)} jobs in ${fixed(prefill.seconds, 1)} s`,
    );
    checkpointed = (await checkpoint(pool)) && checkpointed;
    const drain = await drainQueue(round, scratch.databaseUrl, scratch.queue, pool, { accepted: prefill.events, unknownEventIds: [] }, 'persist');
    const copy = await copyBaseline(scratch.databaseUrl);
    const ratio = copy.rowsPerSecond > 0 ? drain.rowsPerSecond / copy.rowsPerSecond : Number.NaN;
    say(
      `  persist round ${round} COPY    ${thousands(copy.rows.live_traces)} + ${thousands(copy.rows.webhook_events)} rows` +
        ` (${fixed(copy.bytes / 2 ** 20, 1)} MiB) in ${fixed(copy.seconds, 2)} s = ${thousands(copy.rowsPerSecond)} events/s` +
        ` (live_traces ${fixed(copy.perTableSeconds.live_traces, 2)} s, webhook_events ${fixed(copy.perTableSeconds.webhook_events, 2)} s),` +
        ` postgres ${fixed(copy.postgresCpuMicrosPerRow, 1)} µs/event;` +
        ` worker ÷ COPY = ${fixed(ratio, 2)}`,
    );
    rounds.push({ round, prefillSeconds: prefill.seconds, drain, copy, ratio });
  }
  if (!checkpointed) say('  note: CHECKPOINT not allowed for this database user: each side may pay for the dirty pages of the one before');
  say();
  return {
    rounds,
    workerRowsPerSecond: median(rounds.map((r) => r.drain.rowsPerSecond)),
    copyRowsPerSecond: median(rounds.map((r) => r.copy.rowsPerSecond)),
    ratio: median(rounds.map((r) => r.ratio)),
    checkpointed,
    ok: rounds.every((r) => r.drain.ok && r.copy.rows.live_traces === r.drain.events),
  };
}

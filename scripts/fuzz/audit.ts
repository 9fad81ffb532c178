import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Ledger } from './ledger.js';

// ---- storage ------------------------------------------------------------------------------------------------

async function queueJobs(baseUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const jobs: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(/^vertigo_queue_jobs\{queue="persist",state="([^"]+)"\} (\S+)$/gm)) jobs[m[1]!] = Number(m[2]);
  return jobs;
}

/** Waits until the persist queue has nothing waiting, active or delayed; returns the job counts by state. */
export async function waitForDrain(baseUrl: string, timeoutMs = 180_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let jobs: Record<string, number> = {};
  for (let quiet = 0; Date.now() < deadline; await sleep(250)) {
    jobs = await queueJobs(baseUrl);
    const pending = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'].reduce((n, s) => n + (jobs[s] ?? 0), 0);
    quiet = pending === 0 ? quiet + 1 : 0;
    if (quiet >= 4) return jobs;
  }
  throw new Error(`the persist queue did not drain within ${timeoutMs} ms: ${JSON.stringify(jobs)}`);
}

const tokensOf = (expr: string) => `ARRAY(SELECT DISTINCT m[1] FROM regexp_matches(${expr}, $1, 'g') AS m)`;

/**
 * Every stored row must carry the token of a request answered 202, and every accepted event must be stored
 * and not failed. Returns webhook_events rows by status.
 */
export async function auditStorage(pool: pg.Pool, ledger: Ledger): Promise<Record<string, number>> {
  const pattern = [`(${ledger.tokenPattern})`];
  const events = await pool.query<{ source: string; delivery_id: string; status: string; error: string | null; tokens: string[] }>(
    `SELECT source, delivery_id, status, error, ${tokensOf("delivery_id || ' ' || payload::text")} AS tokens FROM webhook_events`, pattern);
  const seen = new Set<string>();
  const statuses: Record<string, number> = {};
  const describe = (tokens: string[]) => tokens.map((t) => `${t} (${ledger.labels.get(t) ?? 'not sent'})`).join(', ');
  for (const row of events.rows) {
    statuses[row.status] = (statuses[row.status] ?? 0) + 1;
    for (const t of row.tokens) seen.add(t);
    const where = `webhook_events ${row.source} ${JSON.stringify(row.delivery_id.slice(0, 80))} (${row.status})`;
    if (row.tokens.length === 0) ledger.violation('storage', `${where}: no request of this run carries its token`);
    else if (!row.tokens.some((t) => ledger.accepted.has(t) || ledger.unanswered.has(t))) ledger.violation('storage', `${where}: stored from a rejected request: ${describe(row.tokens)}`);
    if (row.status === 'failed') ledger.violation('storage', `${where}: accepted, then failed: ${row.error} (${describe(row.tokens)})`);
    else if (row.status === 'received') ledger.violation('storage', `${where}: never processed`);
  }
  for (const [token, { label, body }] of ledger.accepted) {
    if (seen.has(token)) continue;
    ledger.violation('storage', `${token} (${label}) was accepted, but nothing of it is stored: ${body.slice(0, 300)}`);
  }
  const traces = await pool.query<{ tbl: string; external_id: string; tokens: string[] }>(
    `SELECT 'live_traces' AS tbl, external_id, ${tokensOf("external_id || ' ' || metadata::text")} AS tokens FROM live_traces
     UNION ALL SELECT 'live_trace_tombstones', external_id, ${tokensOf('external_id')} FROM live_trace_tombstones`, pattern);
  for (const row of traces.rows) {
    if (!row.tokens.some((t) => ledger.accepted.has(t) || ledger.unanswered.has(t))) {
      ledger.violation('storage', `${row.tbl} ${JSON.stringify(row.external_id.slice(0, 80))}: not from an accepted request (${describe(row.tokens)})`);
    }
  }
  return statuses;
}

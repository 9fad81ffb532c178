import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { scrape, seriesValue } from './metrics-text.js';
import { standardHeaders } from './payload.js';
import { latencySummary, type LatencySummary } from './stats.js';

/**
 * The freshness probe: every `intervalMs` one uniquely identified `trace.created` event on the `standard`
 * source (which nothing else sends during the probe) with its own model, and from its 202 on:
 *  - the database is polled every `pollMs` for its row in live_traces (by external id): the time the answer that
 *    first holds it arrives;
 *  - the worker's /metrics is polled every `pollMs`: probe k (k-th 202) counts as counted when both
 *    vertigo_persist_events_total{source="standard",status="processed"} and
 *    gen_ai_client_requests_total{source="standard",model=PROBE_MODEL,status="success"} are at least k
 *    (counters do not say which event they counted; an event counted before an earlier one is credited to it).
 * Times are epoch milliseconds (performance.timeOrigin + now), comparable with the load generator's.
 */

export const PROBE_MODEL = 'bench-freshness-probe';

export interface Probe {
  eventId: string;
  sentAt: number;
  acceptedAt?: number;
  /** Order of the 202s, from 1. */
  seq?: number;
  status?: number;
  inDbAt?: number;
  countedAt?: number;
}

export interface ProbeOptions {
  /** The API's standard-source webhook URL. */
  url: string;
  secret: string;
  workerMetricsUrl: string;
  pool: pg.Pool;
  idPrefix: string;
  intervalMs: number;
  pollMs: number;
}

export interface FreshnessFigures {
  /** Probes accepted inside the window. */
  probes: number;
  /** From the 202 to the row being queryable / to being counted on /metrics (ms); missing ones as Infinity. */
  toRow: LatencySummary;
  toMetrics: LatencySummary;
  missingRow: number;
  missingMetrics: number;
}

export const epochNow = (): number => performance.timeOrigin + performance.now();

export class FreshnessProbe {
  readonly probes: Probe[] = [];
  private accepted = 0;
  private sending = true;
  private polling = true;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly loops: Promise<void>[] = [];
  errors: string[] = [];

  constructor(private readonly options: ProbeOptions) {}

  start(): void {
    this.loops.push(this.sendLoop(), this.dbLoop(), this.metricsLoop());
  }

  /** Stops sending, then waits until every accepted probe is found in both places, or `timeoutMs`. */
  async finish(timeoutMs: number): Promise<void> {
    this.sending = false;
    await Promise.all(this.inFlight);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.probes.some((p) => p.acceptedAt !== undefined && (p.inDbAt === undefined || p.countedAt === undefined))) {
      await sleep(this.options.pollMs);
    }
    this.polling = false;
    await Promise.all(this.loops);
  }

  /** The figures of the probes accepted in [from, to] (epoch ms). */
  figures(from = 0, to = Number.POSITIVE_INFINITY): FreshnessFigures {
    const mine = this.probes.filter((p) => p.acceptedAt !== undefined && p.acceptedAt >= from && p.acceptedAt <= to);
    const delays = (at: (p: Probe) => number | undefined) =>
      Float64Array.from(mine, (p) => { const t = at(p); return t === undefined ? Number.POSITIVE_INFINITY : t - p.acceptedAt!; });
    return {
      probes: mine.length,
      toRow: latencySummary(delays((p) => p.inDbAt)),
      toMetrics: latencySummary(delays((p) => p.countedAt)),
      missingRow: mine.filter((p) => p.inDbAt === undefined).length,
      missingMetrics: mine.filter((p) => p.countedAt === undefined).length,
    };
  }

  get refused(): Probe[] {
    return this.probes.filter((p) => p.status !== undefined && p.status !== 202);
  }

  private async sendLoop(): Promise<void> {
    let next = performance.now();
    while (this.sending) {
      const sent = this.send(this.probes.length);
      this.inFlight.add(sent);
      void sent.finally(() => this.inFlight.delete(sent));
      next += this.options.intervalMs;
      await sleep(Math.max(0, next - performance.now()));
    }
  }

  private async send(index: number): Promise<void> {
    const eventId = `fresh-${this.options.idPrefix}-${index}`;
    const probe: Probe = { eventId, sentAt: epochNow() };
    this.probes.push(probe);
    const body = JSON.stringify({
      event_type: 'trace.created',
      event_id: eventId,
      timestamp: new Date().toISOString(),
      data: { id: eventId, model: PROBE_MODEL, provider: 'bench', status: 'success', latency_ms: 50, input_tokens: 10, output_tokens: 5 },
    });
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...standardHeaders(this.options.secret, eventId, body) },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      await response.arrayBuffer();
      probe.status = response.status;
      if (response.status === 202) {
        probe.acceptedAt = epochNow();
        probe.seq = ++this.accepted;
      }
    } catch (err) {
      this.errors.push((err as Error).message);
    }
  }

  private async dbLoop(): Promise<void> {
    while (this.polling) {
      const waiting = this.probes.filter((p) => p.acceptedAt !== undefined && p.inDbAt === undefined);
      if (waiting.length > 0) {
        try {
          const result = await this.options.pool.query<{ external_id: string }>(
            "SELECT external_id FROM live_traces WHERE source = 'standard' AND external_id = ANY($1::text[])",
            [waiting.map((p) => p.eventId)],
          );
          const at = epochNow();
          const found = new Set(result.rows.map((r) => r.external_id));
          for (const p of waiting) if (found.has(p.eventId)) p.inDbAt = at;
        } catch (err) {
          this.errors.push(`database poll: ${(err as Error).message}`);
        }
      }
      await sleep(this.options.pollMs);
    }
  }

  private async metricsLoop(): Promise<void> {
    while (this.polling) {
      if (this.probes.some((p) => p.acceptedAt !== undefined && p.countedAt === undefined)) {
        try {
          const text = await scrape(this.options.workerMetricsUrl);
          const at = epochNow();
          const counted = Math.min(
            seriesValue(text, 'vertigo_persist_events_total', { source: 'standard', status: 'processed' }),
            seriesValue(text, 'gen_ai_client_requests_total', { source: 'standard', model: PROBE_MODEL, status: 'success' }),
          );
          for (const p of this.probes) if (p.seq !== undefined && p.countedAt === undefined && p.seq <= counted) p.countedAt = at;
        } catch (err) {
          this.errors.push(`metrics poll: ${(err as Error).message}`);
        }
      }
      await sleep(this.options.pollMs);
    }
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import { BenchFailure, say } from './output.js';
import type { LongWorker } from './freshness.js';
import { scrape, seriesCount } from './metrics-text.js';
import { customSignature, standardHeaders } from './payload.js';
import type { Scratch } from './scratch-lifecycle.js';
import type { Servers } from './servers.js';
import { runId, secret, settings, standardSecret } from './settings.js';
import { fixed, latencySummary, type LatencySummary, thousands } from './stats.js';

/**
 * Scrape cost with many series: traces of `models` models × 2 sources (custom, standard) × 3 final statuses go
 * through the API to the long-lived worker (METRICS_MAX_MODELS raised), until its /metrics holds about
 * BENCH_SCRAPE_SERIES series; then BENCH_SCRAPES GETs of its /metrics are timed, interleaved with as many GETs of
 * bare Fastify's /metrics (an empty prom-client registry). Sequential, nothing else running.
 */

const SOURCES = ['custom', 'standard'] as const;
const STATUSES = ['success', 'error', 'cancelled'] as const;
/**
 * Series one model adds per source: per status the duration histogram (14 buckets + +Inf, _sum, _count) and
 * requests_total; per model tokens (input, output), cost and errors.
 */
export const SERIES_PER_MODEL_AND_SOURCE = STATUSES.length * (14 + 1 + 2 + 1) + 2 + 1 + 1;

export const modelsForSeries = (series: number): number => Math.ceil(series / (SERIES_PER_MODEL_AND_SOURCE * SOURCES.length));

export interface ScrapeTiming {
  latency: LatencySummary;
  bytes: number;
  series: number;
}

export interface ScrapeResult {
  models: number;
  tracesSent: number;
  /** The worker's /metrics before the models were added (few series), with them, and bare Fastify's. */
  vertigoBefore: ScrapeTiming;
  vertigo: ScrapeTiming;
  bare: ScrapeTiming;
  /** Vertigo p99 ÷ bare p99. */
  ratio: number;
}

async function timeScrapes(urls: string[], count: number): Promise<ScrapeTiming[]> {
  const times = urls.map(() => new Float64Array(count));
  const last = urls.map(() => '');
  for (let i = 0; i < count; i++) {
    for (const [u, url] of urls.entries()) {
      const t0 = performance.now();
      last[u] = await scrape(url);
      times[u]![i] = performance.now() - t0;
    }
  }
  return urls.map((_, u) => ({ latency: latencySummary(times[u]!), bytes: Buffer.byteLength(last[u]!), series: seriesCount(last[u]!) }));
}

function traceEvents(source: string, models: number): object[] {
  const events: object[] = [];
  for (let m = 0; m < models; m++) {
    for (const [s, status] of STATUSES.entries()) {
      const id = `scrape-${runId}-${source}-${m}-${status}`;
      events.push({
        event_type: 'trace.created',
        event_id: id,
        timestamp: new Date().toISOString(),
        data: { id, model: `bench-model-${String(m).padStart(4, '0')}`, provider: 'bench', status, latency_ms: 40 * (m % 50) + 7 * s + 1, input_tokens: 100 + m, output_tokens: 10 + s, cost_usd: 0.0001 },
      });
    }
  }
  return events;
}

async function sendTraces(apiUrl: string, models: number): Promise<number> {
  let sent = 0;
  for (const source of SOURCES) {
    const events = traceEvents(source, models);
    for (let i = 0; i < events.length; i += 100) {
      const body = JSON.stringify({ events: events.slice(i, i + 100) });
      const msgId = `scrape-${runId}-${source}-${i}`;
      const headers =
        source === 'custom' ? { 'x-signature': customSignature(secret, body) } : standardHeaders(standardSecret, msgId, body);
      const response = await fetch(new URL(`/live-data/webhooks/${source}`, apiUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      const text = await response.text();
      if (response.status !== 202) throw new BenchFailure(`scrape: ${source} delivery answered ${response.status}: ${text.slice(0, 300)}`);
      sent += Math.min(100, events.length - i);
    }
  }
  return sent;
}

export async function runScrape(servers: Servers, scratch: Scratch, worker: LongWorker): Promise<ScrapeResult> {
  const bareMetricsUrl = new URL('/metrics', servers.bareUrl).toString();
  const warm = Math.max(10, Math.round(settings.scrapes / 10));
  await timeScrapes([worker.metricsUrl, bareMetricsUrl], warm);
  const [vertigoBefore] = await timeScrapes([worker.metricsUrl], settings.scrapes);
  const models = modelsForSeries(settings.scrapeSeries);
  if (models > worker.maxModels) throw new BenchFailure(`scrape: ${models} models needed, METRICS_MAX_MODELS is ${worker.maxModels}`);
  const tracesSent = await sendTraces(servers.apiUrl, models);
  const started = Date.now();
  for (;;) {
    await sleep(200);
    const pending = (await scratch.queue.counts()).pending;
    const series = seriesCount(await scrape(worker.metricsUrl));
    if (pending === 0 && series >= vertigoBefore!.series + models * SERIES_PER_MODEL_AND_SOURCE * SOURCES.length - 10) break;
    if (Date.now() - started > 60_000) {
      say(`  scrape: WARNING only ${thousands(series)} series after 60 s (${pending} jobs pending); timing what is there`);
      break;
    }
  }
  await timeScrapes([worker.metricsUrl, bareMetricsUrl], warm);
  const [vertigo, bare] = await timeScrapes([worker.metricsUrl, bareMetricsUrl], settings.scrapes);
  const result: ScrapeResult = { models, tracesSent, vertigoBefore: vertigoBefore!, vertigo: vertigo!, bare: bare!, ratio: vertigo!.latency.p99 / bare!.latency.p99 };
  for (const [name, t] of [['worker, before', result.vertigoBefore], ['worker, with the models', result.vertigo], ['bare Fastify, empty registry', result.bare]] as const) {
    say(
      `  scrape ${name.padEnd(28)} ${thousands(t.series).padStart(6)} series ${fixed(t.bytes / 1024, 0).padStart(5)} KiB` +
        `  p50 ${fixed(t.latency.p50, 2)} ms  p99 ${fixed(t.latency.p99, 2)} ms  max ${fixed(t.latency.max, 2)} ms`,
    );
  }
  say();
  return result;
}

import type { FreshnessResult } from './freshness.js';
import type { MemoryReport } from './memory-sampler.js';
import { say } from './output.js';
import type { PersistResult } from './persist-phase.js';
import type { ScrapeResult } from './scrape.js';
import { settings } from './settings.js';
import { fixed, table, thousands } from './stats.js';
import type { Summary } from './summary.js';

/**
 * `npm run bench`'s verdict: every figure next to its baseline, the ratio, the target and met/missed. Speed
 * never fails the run: a missed target is printed, the exit code stays 0.
 */

export const TARGETS = {
  ingestRatio: 0.4,
  ingestP99Ms: 20,
  batchedEventsPerSecond: 50_000,
  persistRatio: 0.5,
  freshnessP99Ms: 1000,
  scrapeP99Ms: 50,
  rssMB: 300,
} as const;

/** The phases whose memory the RSS target covers: (1) to (3) (ingest phases are named `ingest <scenario>`). */
export const RSS_PHASES = ['ingest', 'persist', 'freshness'];
const inRssPhases = (phase: string) => RSS_PHASES.some((p) => phase === p || phase.startsWith(`${p} `));

export interface BenchFigures {
  single: Summary;
  singleHigh: Summary;
  batched?: Summary;
  persist: PersistResult;
  freshness: FreshnessResult;
  scrape: ScrapeResult;
  memory: MemoryReport;
}

export interface Verdict {
  measure: string;
  vertigo: string;
  baseline: string;
  ratio: string;
  target: string;
  /** undefined: no target. */
  met?: boolean;
  value?: number;
}

const ms = (a: number | undefined, b: number | undefined) => `${fixed(a, 2)} / ${fixed(b, 2)}`;
const msWhole = (a: number | undefined, b: number | undefined) => `${fixed(a, 0)} / ${fixed(b, 0)}`;
const below = (value: number | undefined, limit: number) => value !== undefined && Number.isFinite(value) && value < limit;
const atLeast = (value: number | undefined, limit: number) => value !== undefined && Number.isFinite(value) && value >= limit;

export function verdicts(f: BenchFigures): Verdict[] {
  const v: Verdict[] = [];
  const c = settings.connections;
  v.push({
    measure: `ingest, ${c} conns: events/s`,
    vertigo: thousands(f.single.vertigo.rps),
    baseline: `${thousands(f.single.bare.rps)} bare Fastify`,
    ratio: fixed(f.single.ratio, 2),
    target: `≥ ${fixed(TARGETS.ingestRatio, 2)} of bare`,
    met: atLeast(f.single.ratio, TARGETS.ingestRatio),
    value: f.single.ratio,
  });
  v.push({
    measure: `ingest, ${c} conns: p50 / p99 ms`,
    vertigo: ms(f.single.vertigo.p50, f.single.vertigo.p99),
    baseline: ms(f.single.bare.p50, f.single.bare.p99),
    ratio: fixed((f.single.vertigo.p99 ?? NaN) / (f.single.bare.p99 ?? NaN), 2),
    target: `p99 < ${TARGETS.ingestP99Ms} ms`,
    met: below(f.single.vertigo.p99, TARGETS.ingestP99Ms),
    value: f.single.vertigo.p99,
  });
  const h = settings.connectionsHigh;
  v.push({
    measure: `ingest, ${h} conns: events/s`,
    vertigo: thousands(f.singleHigh.vertigo.rps),
    baseline: `${thousands(f.singleHigh.bare.rps)} bare Fastify`,
    ratio: fixed(f.singleHigh.ratio, 2),
    target: '-',
  });
  v.push({
    measure: `ingest, ${h} conns: p50 / p99 ms`,
    vertigo: ms(f.singleHigh.vertigo.p50, f.singleHigh.vertigo.p99),
    baseline: ms(f.singleHigh.bare.p50, f.singleHigh.bare.p99),
    ratio: fixed((f.singleHigh.vertigo.p99 ?? NaN) / (f.singleHigh.bare.p99 ?? NaN), 2),
    target: '-',
  });
  if (f.batched) {
    const b = f.batched;
    v.push({
      measure: `batched ${settings.batchEvents}/delivery, ${c} conns: events/s`,
      vertigo: thousands(b.vertigo.eventsPerSecond),
      baseline: `${thousands(b.bare.eventsPerSecond)} bare, same bodies`,
      ratio: fixed(b.ratio, 2),
      target: `≥ ${thousands(TARGETS.batchedEventsPerSecond)} events/s`,
      met: atLeast(b.vertigo.eventsPerSecond, TARGETS.batchedEventsPerSecond),
      value: b.vertigo.eventsPerSecond,
    });
    v.push({
      measure: `batched: p50 / p99 ms per delivery`,
      vertigo: ms(b.vertigo.p50, b.vertigo.p99),
      baseline: ms(b.bare.p50, b.bare.p99),
      ratio: fixed((b.vertigo.p99 ?? NaN) / (b.bare.p99 ?? NaN), 2),
      target: '-',
    });
  }
  v.push({
    measure: `persist: queue → rows, events/s`,
    vertigo: `${thousands(f.persist.workerRowsPerSecond)} worker`,
    baseline: `${thousands(f.persist.copyRowsPerSecond)} raw COPY`,
    ratio: fixed(f.persist.ratio, 2),
    target: `≥ ${fixed(TARGETS.persistRatio, 2)} of COPY`,
    met: atLeast(f.persist.ratio, TARGETS.persistRatio),
    value: f.persist.ratio,
  });
  const fr = f.freshness.underLoad;
  v.push({
    measure: `freshness 202 → row, p50 / p99 ms (${fr.probes} probes, load ${thousands(f.freshness.load.measure.rps2xx)} req/s)`,
    vertigo: msWhole(fr.toRow.p50, fr.toRow.p99),
    baseline: '-',
    ratio: '-',
    target: `p99 < ${thousands(TARGETS.freshnessP99Ms)} ms`,
    met: fr.probes > 0 && below(fr.toRow.p99, TARGETS.freshnessP99Ms),
    value: fr.toRow.p99,
  });
  v.push({
    measure: `freshness 202 → /metrics, p50 / p99 ms`,
    vertigo: msWhole(fr.toMetrics.p50, fr.toMetrics.p99),
    baseline: '-',
    ratio: '-',
    target: `p99 < ${thousands(TARGETS.freshnessP99Ms)} ms`,
    met: fr.probes > 0 && below(fr.toMetrics.p99, TARGETS.freshnessP99Ms),
    value: fr.toMetrics.p99,
  });
  const s = f.scrape;
  v.push({
    measure: `scrape /metrics (${thousands(s.vertigo.series)} series), p50 / p99 ms`,
    vertigo: ms(s.vertigo.latency.p50, s.vertigo.latency.p99),
    baseline: `${ms(s.bare.latency.p50, s.bare.latency.p99)} empty registry`,
    ratio: `${fixed(s.ratio, 0)}x`,
    target: `p99 < ${TARGETS.scrapeP99Ms} ms`,
    met: below(s.vertigo.latency.p99, TARGETS.scrapeP99Ms),
    value: s.vertigo.latency.p99,
  });
  const rss = peakServiceRss(f.memory);
  const bare = Math.max(0, ...f.memory.phases.map((p) => p.peakMB.bare ?? 0));
  const one = peakProcessRss(f.memory);
  v.push({
    measure: `peak RSS, one process (${one.role})`,
    vertigo: `${fixed(one.mb, 0)} MB`,
    baseline: `${fixed(bare, 0)} MB bare Fastify`,
    ratio: `${fixed(one.mb / bare, 1)}x`,
    target: '-',
  });
  v.push({
    measure: 'peak RSS, api + worker, (1)–(3)',
    vertigo: `${fixed(rss, 0)} MB`,
    baseline: `${fixed(bare, 0)} MB bare Fastify`,
    ratio: `${fixed(rss / bare, 1)}x`,
    target: `< ${TARGETS.rssMB} MB`,
    met: below(rss, TARGETS.rssMB),
    value: rss,
  });
  return v;
}

export const peakServiceRss = (memory: MemoryReport): number =>
  Math.max(0, ...memory.phases.filter((p) => inRssPhases(p.phase)).map((p) => p.servicePeakMB));

/** The highest RSS of one service process in (1)–(3), and its role. */
function peakProcessRss(memory: MemoryReport): { mb: number; role: string } {
  let best = { mb: 0, role: '-' };
  for (const p of memory.phases.filter((q) => inRssPhases(q.phase))) {
    for (const role of ['api', 'worker', 'all'] as const) {
      const mb = p.peakMB[role] ?? 0;
      if (mb > best.mb) best = { mb, role: `${role}, ${p.phase}` };
    }
  }
  return best;
}

export function printMemory(memory: MemoryReport): void {
  say(`Memory (VmRSS every ${memory.intervalMs} ms, MB):`);
  say(
    table(
      ['phase', 'samples', 'api', 'worker', 'api + worker', 'bare Fastify'],
      memory.phases.map((p) => [p.phase, String(p.samples), fixed(p.peakMB.api, 0), fixed(p.peakMB.worker, 0), fixed(p.servicePeakMB, 0), fixed(p.peakMB.bare, 0)]),
    ),
  );
  const hwm = memory.processes.filter((p) => p.role !== 'bare').sort((a, b) => b.hwmMB - a.hwmMB)[0];
  if (hwm) say(`  highest VmHWM (kernel high-water mark) of a service process: ${fixed(hwm.hwmMB, 0)} MB (${hwm.name})`);
  say();
}

export function printVerdicts(list: Verdict[]): void {
  say(`Vertigo Live against its baselines (same run, same machine; ingest and persist: medians of ${settings.rounds} rounds):`);
  say(
    table(
      ['measure', 'Vertigo', 'baseline', 'ratio', 'target', 'result'],
      list.map((v) => [v.measure, v.vertigo, v.baseline, v.ratio, v.target, v.met === undefined ? '' : v.met ? 'met' : 'MISSED']),
    ),
  );
  say('  ratio: Vertigo ÷ baseline (latency rows: of the p99s; scrape: p99 ÷ p99; RSS: ÷ the bare Fastify process, run under tsx)');
  const missed = list.filter((v) => v.met === false).length;
  say(`  ${list.filter((v) => v.met !== undefined).length - missed} targets met, ${missed} missed (a missed target does not fail the run)`);
}

import { refusedCount, type Rounds, type RunRecord, type Variant } from './rounds.js';
import { settings } from './settings.js';
import { medianOf } from './stats.js';

/** The figures a run ends with: medians per variant, the ratios, the persist rate, and the targets met or missed. */

export const TARGET_RATIO = 0.4;
export const TARGET_P99_MS = 20;

export interface VariantSummary {
  variant: Variant;
  rps: number | undefined;
  /** Events per second in 2xx-answered requests (= rps for single-event bodies). */
  eventsPerSecond: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
  cpuMicrosPerRequest: number | undefined;
  serverCores: number | undefined;
  redisCpuMicrosPerRequest: number | undefined;
  loaderCores: number | undefined;
  non2xx: number;
}

export interface Summary {
  bare: VariantSummary;
  vertigo: VariantSummary;
  /** Vertigo req/s ÷ bare req/s (medians). */
  ratio: number | undefined;
  /** Bare CPU µs/req ÷ Vertigo CPU µs/req (medians). */
  cpuRatio: number | undefined;
  perRoundRatios: (number | undefined)[];
  persistRps: number | undefined;
  ratioOk: boolean;
  p99Ok: boolean;
}

function summarizeVariant(variant: Variant, runs: RunRecord[]): VariantSummary {
  const mine = runs.filter((r) => r.variant === variant);
  return {
    variant,
    rps: medianOf(mine.map((r) => r.measure.rps2xx)),
    eventsPerSecond: medianOf(mine.map((r) => r.measure.eventsPerSecond ?? r.measure.rps2xx)),
    p50: medianOf(mine.map((r) => r.measure.latency.p50)),
    p99: medianOf(mine.map((r) => r.measure.latency.p99)),
    cpuMicrosPerRequest: medianOf(mine.map((r) => r.cpuMicrosPerRequest)),
    serverCores: medianOf(mine.map((r) => r.serverCores)),
    redisCpuMicrosPerRequest: medianOf(mine.map((r) => r.redisCpuMicrosPerRequest)),
    loaderCores: medianOf(mine.map((r) => r.loaderCores)),
    non2xx: mine.reduce((sum, r) => sum + refusedCount(r), 0),
  };
}

/** The medians of one scenario (by name; bench:ingest's single scenario has none). */
export function summarize(rounds: Rounds, scenario?: string): Summary {
  const runs = rounds.runs.filter((r) => r.scenario === scenario);
  const drains = rounds.drains.filter((d) => d.label === scenario);
  const bare = summarizeVariant('bare', runs);
  const vertigo = summarizeVariant('vertigo', runs);
  const ratio = bare.rps && vertigo.rps !== undefined ? vertigo.rps / bare.rps : undefined;
  const cpuRatio =
    bare.cpuMicrosPerRequest !== undefined && vertigo.cpuMicrosPerRequest ? bare.cpuMicrosPerRequest / vertigo.cpuMicrosPerRequest : undefined;
  const perRoundRatios = Array.from({ length: settings.rounds }, (_, i) => {
    const b = runs.find((r) => r.variant === 'bare' && r.round === i + 1);
    const v = runs.find((r) => r.variant === 'vertigo' && r.round === i + 1);
    return b && v && b.measure.rps2xx > 0 ? v.measure.rps2xx / b.measure.rps2xx : undefined;
  });
  return {
    bare,
    vertigo,
    ratio,
    cpuRatio,
    perRoundRatios,
    persistRps: medianOf(drains.map((d) => d.rowsPerSecond)),
    ratioOk: ratio !== undefined && ratio >= TARGET_RATIO,
    p99Ok: vertigo.p99 !== undefined && vertigo.p99 < TARGET_P99_MS,
  };
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PhaseReport } from './load.js';
import type { GitInfo, Machine } from './machine.js';
import type { Rounds } from './rounds.js';
import { databaseName, queuePrefix, RESULTS_DIR, settings, WEBHOOK_PATH } from './settings.js';
import { type Summary, TARGET_P99_MS, TARGET_RATIO } from './summary.js';
import type { Profiles } from './vertigo-service.js';

/** The JSON report of a run: bench/results/ingest-<start time>.json. */

export interface RunResults {
  startedAt: Date;
  machine: Machine;
  git: GitInfo;
  rounds: Rounds;
  summary: Summary;
  profiles: Profiles;
}

/** Writes `content` as bench/results/<prefix>-<start time>.json and returns its path. */
export function writeResultsFile(prefix: string, startedAt: Date, content: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${prefix}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`);
  return file;
}

/** Writes the report and returns its path. */
export function writeResults({ startedAt, machine, git, rounds, summary, profiles }: RunResults): string {
  return writeResultsFile('ingest', startedAt, {
    benchmark: 'ingest',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    git,
    settings: { ...settings, adminDatabaseUrl: undefined, redisUrl: undefined, path: WEBHOOK_PATH, queuePrefix, databaseName },
    targets: {
      ratio: { target: TARGET_RATIO, value: summary.ratio, ok: summary.ratioOk },
      p99Ms: { target: TARGET_P99_MS, value: summary.vertigo.p99, ok: summary.p99Ok },
    },
    medians: {
      bare: summary.bare,
      vertigo: summary.vertigo,
      ratio: summary.ratio,
      perRoundRatios: summary.perRoundRatios,
      cpuRatio: summary.cpuRatio,
    },
    runs: rounds.runs.map((r) => ({ ...r, warmup: stripIds(r.warmup), measure: stripIds(r.measure) })),
    persist: { medianRowsPerSecond: summary.persistRps, drains: rounds.drains },
    verification: { ok: !rounds.mismatch, acceptedTotal: rounds.acceptedTotal },
    ...(profiles.api ? { profile: profiles.api } : {}),
    ...(profiles.worker ? { workerProfile: profiles.worker } : {}),
  });
}

/** A load phase as kept in a results file: the ids whose answer was never seen are counted, not listed. */
export const stripIds = (p: PhaseReport | undefined) => p && { ...p, unknownEventIds: p.unknownEventIds.length };

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GitInfo, Machine } from './machine.js';
import { say } from './output.js';
import { RESULTS_DIR } from './settings.js';
import type { PhaseFigures } from './sync-phase.js';
import type { LiveRecord } from './sync-live.js';
import type { LatencyFigures } from './sync-live-writes.js';
import type { SyncRunRecord } from './sync-run.js';
import type { SeedPlan } from './sync-seed.js';
import { databaseName, queuePrefix, syncSettings } from './sync-settings.js';
import { fixed, table, thousands } from './stats.js';

/** What the sync benchmark prints (header, the phase table, live latency, targets and checks) and its JSON report. */

export interface SyncBenchResults {
  startedAt: Date;
  machine: Machine;
  git: GitInfo;
  seed: SeedPlan & { counted: number; batches: number; figures: PhaseFigures };
  readOnly: { docs: number; distinct: number; queries: number; tieQueries: number; figures: PhaseFigures };
  insertOnly: { rows: number; malformed: number; mapSeconds: number; figures: PhaseFigures };
  sync: SyncRunRecord;
  /** The emulator alone: write → snapshot of a bare listener (same writes, same query shape). */
  liveBaseline: LatencyFigures | undefined;
  live: LiveRecord | undefined;
}

const rate = (n: number, f: PhaseFigures) => (f.seconds > 0 ? n / f.seconds : undefined);
const perDoc = (seconds: number | undefined, n: number) => (seconds === undefined || n === 0 ? undefined : (seconds * 1e6) / n);

export function summarizeSync(r: SyncBenchResults) {
  const readOnly = rate(r.readOnly.docs, r.readOnly.figures);
  const insertOnly = rate(r.insertOnly.rows, r.insertOnly.figures);
  const sync = rate(r.sync.result.documents, r.sync.figures);
  // A loop that reads a page, then writes it, with nothing overlapped and no other work, could go this fast.
  const serialCeiling = readOnly && insertOnly ? 1 / (1 / readOnly + 1 / insertOnly) : undefined;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : undefined);
  return {
    seedDocsPerSecond: rate(r.seed.docs, r.seed.figures),
    readOnlyDocsPerSecond: readOnly,
    insertOnlyRowsPerSecond: insertOnly,
    serialCeilingDocsPerSecond: serialCeiling,
    syncDocsPerSecond: sync,
    syncToReadOnly: ratio(sync, readOnly),
    syncToInsertOnly: ratio(sync, insertOnly),
    syncToSerialCeiling: ratio(sync, serialCeiling),
    syncReadShare: r.sync.figures.seconds > 0 ? r.sync.readSeconds / r.sync.figures.seconds : undefined,
    /** The sync's own side (mapping, PostgreSQL, its bookkeeping): documents per second of the time outside the queries. */
    syncWriteSideDocsPerSecond: rate(r.sync.result.documents, { ...r.sync.figures, seconds: r.sync.figures.seconds - r.sync.readSeconds }),
  };
}

export function printSyncHeader(startedAt: Date, machine: Machine, git: GitInfo): void {
  const s = syncSettings;
  say(`Vertigo Live Firestore sync benchmark ${startedAt.toISOString()}`);
  say(
    `  ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, commit ${git.commit}${git.dirty ? ' (+ uncommitted changes)' : ''},` +
      ` load average ${machine.loadAverageAtStart.join(' ')}`,
  );
  say(
    `  ${thousands(s.docs)} documents (${Math.round(s.tiesFraction * 100)} % sharing one updatedAt), batch size ${s.batchSize},` +
      ` live: ${s.liveDocs} writes at ${s.liveRate}/s, polled every ${s.pollMs} ms`,
  );
  say(
    s.emulatorProcess
      ? '  the Firestore emulator (@firestore-emulator/server) runs in a child process: its CPU is counted apart ("emulator CPU")'
      : '  the Firestore emulator (@firestore-emulator/server, immer auto-freeze off) runs in this process: its CPU is counted in "node CPU" below',
  );
  say();
}

export function printSyncResults(r: SyncBenchResults): void {
  const s = summarizeSync(r);
  const row = (label: string, n: number, f: PhaseFigures | undefined, docsPerSecond: number | undefined, vsRead: string, vsInsert: string) => [
    label,
    thousands(n),
    f ? fixed(f.seconds, 2) : '-',
    thousands(docsPerSecond),
    vsRead,
    vsInsert,
    fixed(f && perDoc(f.nodeCpuSeconds, n), 0),
    ...(syncSettings.emulatorProcess ? [fixed(f && perDoc(f.emulatorCpuSeconds, n), 0)] : []),
    fixed(f && perDoc(f.postgresCpuSeconds, n), 0),
  ];
  say(`Firestore → PostgreSQL, ${thousands(r.seed.docs)} documents, pages of ${syncSettings.batchSize}:`);
  say(
    table(
      [
        'phase',
        'docs',
        'seconds',
        'docs/s',
        'vs read-only',
        'vs insert-only',
        'node CPU µs/doc',
        ...(syncSettings.emulatorProcess ? ['emulator CPU µs/doc'] : []),
        'postgres CPU µs/doc',
      ],
      [
        row('seed: emulator batched writes (not ours)', r.seed.docs, r.seed.figures, s.seedDocsPerSecond, '-', '-'),
        row('baseline: read-only, the sync\'s queries', r.readOnly.docs, r.readOnly.figures, s.readOnlyDocsPerSecond, '1.00', '-'),
        row('baseline: insert-only, 1 stmt/page', r.insertOnly.rows, r.insertOnly.figures, s.insertOnlyRowsPerSecond, '-', '1.00'),
        row('serial ceiling: read, then insert', r.readOnly.docs, undefined, s.serialCeilingDocsPerSecond, '-', '-'),
        row('sync: CollectionSync incremental run', r.sync.result.documents, r.sync.figures, s.syncDocsPerSecond, fixed(s.syncToReadOnly, 2), fixed(s.syncToInsertOnly, 2)),
      ],
    ),
  );
  say(
    `  sync: ${r.sync.queries} Firestore queries (${r.sync.tieQueries} for groups of ties), ${fixed(r.sync.readSeconds, 1)} s in them` +
      ` (${fixed((s.syncReadShare ?? 0) * 100, 0)} %), ${fixed(r.sync.figures.seconds - r.sync.readSeconds, 1)} s mapping + PostgreSQL` +
      ` (${thousands(s.syncWriteSideDocsPerSecond)} docs/s on their own); ${fixed(s.syncToSerialCeiling, 2)} of the serial ceiling`,
  );
  say(`  read-only: ${r.readOnly.queries} queries (${r.readOnly.tieQueries} for ties), ${fixed((r.readOnly.figures.seconds / Math.max(1, r.readOnly.queries)) * 1000, 0)} ms each on average`);
  say(`  insert-only: mapping the documents took ${fixed(r.insertOnly.mapSeconds, 2)} s (${fixed(perDoc(r.insertOnly.mapSeconds, r.insertOnly.rows), 1)} µs/doc, not in the insert time); scratch table without indexes`);
  say(`  load average: ${r.seed.figures.loadAverageBefore.join(' ')} before seeding, ${r.sync.figures.loadAverageAfter.join(' ')} after the sync`);
  say();
  if (r.live) printLive(r.live, r.liveBaseline);
  printTargetsAndChecks(r);
}

function printLive(live: LiveRecord, baseline: LatencyFigures | undefined): void {
  const row = (label: string, f: LatencyFigures) => {
    const l = f.latencyMs;
    return [
      label,
      `${f.seen}/${f.writes}`,
      fixed(l?.p50, 1),
      fixed(l?.p95, 1),
      fixed(l?.p99, 1),
      fixed(l?.max, 1),
      fixed(l?.mean, 1),
      fixed(f.first20Ms?.p50, 1),
      `${fixed(f.writeCallMs?.p50, 1)}/${fixed(f.writeCallMs?.p99, 1)}`,
      fixed(f.achievedRatePerSecond, 1),
      fixed(f.figures.seconds > 0 ? (f.figures.nodeCpuSeconds / f.figures.seconds) * 100 : undefined, 0),
      ...(syncSettings.emulatorProcess ? [fixed(f.figures.emulatorCpuSeconds !== undefined && f.figures.seconds > 0 ? (f.figures.emulatorCpuSeconds / f.figures.seconds) * 100 : undefined, 0)] : []),
    ];
  };
  say(`Live: ${live.writes} documents written one at a time at ${live.ratePerSecond}/s, latency from each write's completion (ms):`);
  say(
    table(
      [
        'path',
        'seen',
        'p50',
        'p95',
        'p99',
        'max',
        'mean',
        'first-20 p50',
        'write call p50/p99',
        'writes/s',
        'node %cpu',
        ...(syncSettings.emulatorProcess ? ['emulator %cpu'] : []),
      ],
      [
        ...(baseline ? [row('emulator only: bare listener gets the snapshot', baseline)] : []),
        row(`service: row visible in live_traces`, live),
      ],
    ),
  );
  if (baseline?.latencyMs && live.latencyMs) {
    say(
      `  service − emulator only (listener → persist queue → worker → row, plus polling; two separate phases, so noisy` +
        ` once the emulator saturates): first-20 p50 ${fixed((live.first20Ms?.p50 ?? NaN) - (baseline.first20Ms?.p50 ?? NaN), 1)} ms,` +
        ` p50 ${fixed(live.latencyMs.p50 - baseline.latencyMs.p50, 1)} ms, p99 ${fixed(live.latencyMs.p99 - baseline.latencyMs.p99, 1)} ms`,
    );
  }
  say(
    `  service: ROLE=all in this process, listener on "${live.collection}", up ${fixed(live.listenerUpSeconds, 2)} s after start;` +
      ` rows polled every ${live.pollMs} ms (+ one query); each phase on a fresh emulator`,
  );
  say();
}

function printTargetsAndChecks(r: SyncBenchResults): void {
  say('Targets:');
  if (r.live) say(`  live p99 < ${r.live.target.p99Ms} ms: ${fixed(r.live.target.value, 1)} ms  ${r.live.target.ok ? 'OK' : 'MISSED'}`);
  else say('  live p99: not measured (--live-docs 0)');
  say('Checks:');
  const c = r.sync.check;
  say(`  live_traces after the sync: ${thousands(c.liveTraces)} rows, ${thousands(c.expected)} expected; webhook_events ${thousands(c.webhookEvents)}  ${c.ok ? 'OK' : 'MISMATCH'}`);
  for (const p of c.problems) say(`    - ${p}`);
  if (r.readOnly.docs !== r.seed.docs || r.readOnly.distinct !== r.seed.docs) {
    say(`  read-only baseline read ${thousands(r.readOnly.docs)} documents (${thousands(r.readOnly.distinct)} distinct) of ${thousands(r.seed.docs)}  MISMATCH`);
  }
  if (r.live) {
    say(`  live rows: ${r.live.rows} of ${r.live.writes}  ${r.live.ok ? 'OK' : 'MISMATCH'}`);
    if (r.live.missing.length > 0) say(`    - never seen within ${syncSettings.liveTimeoutMs / 1000} s: ${r.live.missing.slice(0, 10).join(', ')}${r.live.missing.length > 10 ? ', …' : ''}`);
  }
}

export function resultsOk(r: SyncBenchResults): boolean {
  const baselinesOk = r.readOnly.docs === r.seed.docs && r.readOnly.distinct === r.seed.docs && r.insertOnly.rows === r.seed.docs;
  return r.sync.check.ok && baselinesOk && (r.live?.ok ?? true);
}

/** Writes bench/results/sync-<start time>.json and returns its path. */
export function writeSyncResults(r: SyncBenchResults): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `sync-${r.startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const summary = summarizeSync(r);
  const { adminDatabaseUrl: _a, redisUrl: _r, help: _h, ...settings } = syncSettings;
  const report = {
    benchmark: 'sync',
    startedAt: r.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: r.machine,
    git: r.git,
    settings: {
      ...settings,
      databaseName,
      queuePrefix,
      emulator: `@firestore-emulator/server, ${settings.emulatorProcess ? 'in a child process' : 'in this process'}`,
    },
    targets: r.live ? { liveP99Ms: { target: r.live.target.p99Ms, value: r.live.target.value, ok: r.live.target.ok } } : {},
    summary,
    seed: { ...r.seed, tieAt: r.seed.tieAt.toDate().toISOString(), tieAtNanos: r.seed.tieAt.nanoseconds },
    baselines: { readOnly: r.readOnly, insertOnly: r.insertOnly },
    sync: r.sync,
    liveBaseline: r.liveBaseline,
    live: r.live,
    verification: { ok: resultsOk(r), sync: r.sync.check, readOnlyDocs: r.readOnly.docs, insertedRows: r.insertOnly.rows, live: r.live && { ok: r.live.ok, rows: r.live.rows, missing: r.live.missing } },
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

import type { GitInfo, Machine } from './machine.js';
import { say } from './output.js';
import type { DrainRecord } from './persist-drain.js';
import type { ProfileSummary } from './profile.js';
import { settings } from './settings.js';
import { fixed, percent, table, thousands } from './stats.js';
import { type Summary, TARGET_P99_MS, TARGET_RATIO } from './summary.js';
import type { Profiles } from './vertigo-service.js';

/** What the benchmark prints around the rounds: its header, and after the rounds the medians, persist figures and targets. */

export function printHeader(startedAt: Date, machine: Machine, git: GitInfo): void {
  say(`Vertigo Live ingest benchmark ${startedAt.toISOString()}`);
  say(
    `  ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, commit ${git.commit}${git.dirty ? ' (+ uncommitted changes)' : ''},` +
      ` load average ${machine.loadAverageAtStart.join(' ')}`,
  );
  say(
    `  ${settings.rounds} rounds × (bare, vertigo), ${settings.connections} connections, warm-up ${settings.warmupSeconds} s,` +
      ` measured ${settings.durationSeconds} s, ~${settings.bodyBytes} B signed single-event custom webhooks`,
  );
  say(
    `  Vertigo: ROLE=api, LOG_LEVEL=warn, WEBHOOK_RATE_LIMIT_MAX=${settings.rateLimitMax}` +
      (settings.rateLimitMax > 0 ? ' (rate limiter ON, Redis-backed: one more Redis round trip per request)' : ' (limiter off)') +
      (Object.keys(settings.serviceEnv).length > 0 ? `, BENCH_SERVICE_ENV ${JSON.stringify(settings.serviceEnv)}` : ''),
  );
  if (settings.cpuProfile) say('  BENCH_CPU_PROF=1: the Vertigo API child runs under --cpu-prof; its figures are slowed by the profiler');
  say();
}

export function printMedians(summary: Summary, title?: string): void {
  say(title ?? `Medians of ${settings.rounds} interleaved runs, ${settings.connections} connections, ${settings.durationSeconds} s each:`);
  const batched = [summary.bare, summary.vertigo].some((s) => s.eventsPerSecond !== undefined && s.eventsPerSecond !== s.rps);
  const rows = [summary.bare, summary.vertigo].map((s) => [
    s.variant === 'bare' ? 'bare Fastify (202)' : 'Vertigo Live (ROLE=api)',
    thousands(s.rps),
    ...(batched ? [thousands(s.eventsPerSecond)] : []),
    fixed(s.p50, 2),
    fixed(s.p99, 2),
    fixed(s.cpuMicrosPerRequest, 1),
    s.variant === 'bare' ? '1.00' : fixed(summary.ratio, 2),
    percent(s.serverCores),
    fixed(s.redisCpuMicrosPerRequest, 1),
    percent(s.loaderCores),
    String(s.non2xx),
  ]);
  say(
    table(
      ['variant', 'req/s', ...(batched ? ['events/s'] : []), 'p50 ms', 'p99 ms', 'CPU µs/req', 'ratio', 'server %cpu', 'redis µs/req', 'loader %cpu', 'non-2xx'],
      rows,
    ),
  );
  say(`  per-round ratios: ${summary.perRoundRatios.map((r) => fixed(r, 2)).join(', ')}`);
  say(
    `  CPU-based ratio (bare µs/req ÷ Vertigo µs/req, what the req/s ratio would be with both servers CPU-bound on one core): ${fixed(summary.cpuRatio, 2)}`,
  );
  say();
}

export function printPersist(summary: Summary, drains: DrainRecord[]): void {
  say('Persist (ROLE=worker child after each Vertigo run):');
  say(
    table(
      ['round', 'rows', 'jobs', 'events/job', 'drain s', 'rows/s', 'worker µs/row', 'postgres µs/row', 'check'],
      drains.map((d) => [
        String(d.round),
        thousands(d.events),
        thousands(d.jobs),
        fixed(d.eventsPerJob, 1),
        fixed(d.drainSeconds, 2),
        thousands(d.rowsPerSecond),
        fixed(d.workerCpuMicrosPerRow, 1),
        fixed(d.postgresCpuMicrosPerRow, 1),
        d.ok ? 'OK' : 'MISMATCH',
      ]),
    ),
  );
  say(`  median persist rate ${thousands(summary.persistRps)} rows/s`);
  say();
}

export function printTargets(summary: Summary, machine: Machine): void {
  say('Targets (Vertigo, medians):');
  say(`  ratio to bare Fastify ≥ ${fixed(TARGET_RATIO, 2)}: ${fixed(summary.ratio, 2)}  ${summary.ratioOk ? 'OK' : 'MISSED'}`);
  say(
    `  p99 < ${TARGET_P99_MS} ms at ${settings.connections} connections: ${fixed(summary.vertigo.p99, 2)} ms  ${summary.p99Ok ? 'OK' : 'MISSED'}`,
  );
  const loaderBusy = Math.max(summary.bare.loaderCores ?? 0, summary.vertigo.loaderCores ?? 0);
  if (loaderBusy > 0.9) {
    say(
      `  note: the load generator used ${percent(loaderBusy)}% of a core; on ${machine.cores} cores it competes with the server,` +
        ' so the bare figure (and hence the ratio) may be load-generator bound',
    );
  }
  if (settings.cpuProfile) say('  note: BENCH_CPU_PROF=1, the Vertigo figures above are slowed by the profiler');
}

export function printProfiles(profiles: Profiles, worker = `the Vertigo worker child of round ${settings.rounds} (start and drain)`): void {
  if (profiles.api) printProfile('the Vertigo API child (whole life: start, warm-ups, measured runs, idle)', profiles.api);
  if (profiles.worker) printProfile(worker, profiles.worker);
}

function printProfile(what: string, summary: ProfileSummary): void {
  say();
  say(`CPU profile of ${what} (${summary.file}), busy ${fixed(summary.busyMs, 0)} ms of ${fixed(summary.totalMs, 0)} ms:`);
  say(
    table(
      ['self %', 'self ms', 'function', 'location'],
      summary.top.map((e) => [fixed(e.selfPercent, 1), fixed(e.selfMs, 0), e.name, e.location]),
    ),
  );
  say();
  say('inclusive time by module group (% of busy time):');
  say(table(['incl %', 'ms', 'group'], summary.groups.map((g) => [fixed(g.percent, 1), fixed(g.ms, 0), g.group])));
}

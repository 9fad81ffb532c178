import { runBenchmark } from './bench/run-main.js';
import { type BenchFigures, printMemory, printVerdicts, TARGETS, verdicts } from './bench/bench-report.js';
import { runFreshness, startLongWorker } from './bench/freshness.js';
import { describeMachine, type GitInfo, gitInfo, type Machine } from './bench/machine.js';
import { MemorySampler } from './bench/memory-sampler.js';
import { loud, say } from './bench/output.js';
import { runPersist } from './bench/persist-phase.js';
import { findProfile, summarizeCpuProfile } from './bench/profile.js';
import { printMedians, printProfiles } from './bench/report.js';
import { stripIds, writeResultsFile } from './bench/results-file.js';
import { runRounds, type Scenario } from './bench/rounds.js';
import { modelsForSeries, runScrape } from './bench/scrape.js';
import { cleanup, createScratch, openPool } from './bench/scratch-lifecycle.js';
import { probeServers, startServers } from './bench/servers.js';
import { databaseName, queuePrefix, settings, WEBHOOK_PATH } from './bench/settings.js';
import { summarize } from './bench/summary.js';
import { buildService, collectProfiles, onVertigoStart, workerProfileDir } from './bench/vertigo-service.js';

/**
 * `npm run bench`: every figure of Vertigo Live next to its baseline, measured in one run on this machine.
 *
 *   1. Ingest (BENCH_ROUNDS interleaved rounds, as `npm run bench:ingest`): bare Fastify answering 202 to the
 *      same body vs signed webhooks through Vertigo (ROLE=api): single events at BENCH_CONNECTIONS (50) and
 *      BENCH_CONNECTIONS_HIGH (200) connections, each followed by a worker draining the queue and the rows
 *      checked; and batched deliveries of BENCH_BATCH_EVENTS (100) events at BENCH_CONNECTIONS connections, whose
 *      events are checked against the API's own count and then removed from the queue unpersisted.
 *   2. Persist (BENCH_ROUNDS rounds): BENCH_PERSIST_EVENTS (30,000) events queued in jobs of
 *      BENCH_PERSIST_JOB_EVENTS (12), drained by a ROLE=worker child into emptied tables; the same rows then
 *      copied by raw COPY (pg-copy-streams) into scratch tables shaped like the real ones.
 *   3. Freshness: a ROLE=worker child next to the API, the single-event load of (1) for BENCH_DURATION, and a probe
 *      sending one `standard` event every BENCH_PROBE_INTERVAL_MS (50) and polling live_traces and the worker's
 *      /metrics every BENCH_POLL_MS (25): 202 → row and 202 → counted, p50/p99.
 *   4. Scrape: traces of many models × 2 sources × 3 statuses until the worker's /metrics holds about
 *      BENCH_SCRAPE_SERIES (10,000) series, then BENCH_SCRAPES (200) timed GETs, interleaved with bare Fastify's
 *      /metrics (an empty prom-client registry).
 *   5. Memory: VmRSS of every server child every BENCH_RSS_INTERVAL_MS (250), peak per phase.
 * Then the table of figures, baselines, ratios and targets (met/missed; speed never fails the run), and a JSON
 * report in bench/results/bench-<timestamp>.json. Children are stopped by PID, the queue obliterated and the
 * scratch database dropped on exit, failure and SIGINT/SIGTERM.
 *
 * Environment: those of bench:ingest (BENCH_DURATION, BENCH_WARMUP, BENCH_ROUNDS, BENCH_CONNECTIONS,
 * BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_SKIP_BUILD, BENCH_SERVICE_ENV, BENCH_RATE_LIMIT_MAX, BENCH_CPU_PROF;
 * see scripts/bench-ingest.ts) and those named above, plus BENCH_FRESH_RATE (req/s of the load in (3); 0, the
 * default, is as fast as it goes, like (1)). Exit code 1 only when the run fails or a check of the rows does not
 * add up.
 */


function printHeader(startedAt: Date, machine: Machine, git: GitInfo): void {
  say(`Vertigo Live benchmark ${startedAt.toISOString()}`);
  say(
    `  ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, commit ${git.commit}${git.dirty ? ' (+ uncommitted changes)' : ''},` +
      ` load average ${machine.loadAverageAtStart.join(' ')}`,
  );
  say(
    `  ${settings.rounds} rounds, warm-up ${settings.warmupSeconds} s, measured ${settings.durationSeconds} s; ingest at ${settings.connections} and` +
      ` ${settings.connectionsHigh} connections, batches of ${settings.batchEvents}; persist ${settings.persistEvents} events in jobs of` +
      ` ${settings.persistJobEvents}; probe every ${settings.probeIntervalMs} ms, polls every ${settings.pollMs} ms` +
      `${settings.freshRate > 0 ? `, freshness load ${settings.freshRate} req/s` : ''}; ~${settings.scrapeSeries} series, ${settings.scrapes} scrapes`,
  );
  say(
    `  Vertigo: ROLE=api + ROLE=worker children, LOG_LEVEL=warn, WEBHOOK_RATE_LIMIT_MAX=${settings.rateLimitMax}` +
      (Object.keys(settings.serviceEnv).length > 0 ? `, BENCH_SERVICE_ENV ${JSON.stringify(settings.serviceEnv)}` : ''),
  );
  if (settings.cpuProfile) say('  BENCH_CPU_PROF=1: the Vertigo children run under --cpu-prof; their figures are slowed by the profiler');
  say();
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const git = gitInfo();
  const machine = describeMachine();
  printHeader(startedAt, machine, git);
  await buildService();

  const memory = new MemorySampler(settings.rssIntervalMs);
  onVertigoStart((child, role) => memory.track(child, role));
  memory.start();
  const scratch = await createScratch();
  const servers = await startServers(scratch.databaseUrl);
  memory.track(servers.bare, 'bare');
  const pool = openPool(scratch.databaseUrl);
  const acceptedByProbe = await probeServers(servers);

  say('1. Ingest');
  const c = settings.connections;
  const scenarios: Scenario[] = [
    { name: `single-${c}c`, tag: 'a', connections: c, eventsPerRequest: 1, drain: true },
    { name: `single-${settings.connectionsHigh}c`, tag: 'b', connections: settings.connectionsHigh, eventsPerRequest: 1, drain: true },
    ...(settings.batchEvents > 0
      ? [{ name: `batch-${settings.batchEvents}x${c}c`, tag: 'c', connections: c, eventsPerRequest: settings.batchEvents, drain: false }]
      : []),
  ];
  const rounds = await runRounds(servers, scratch, pool, acceptedByProbe, scenarios, (s) => memory.phase(`ingest ${s.name}`));

  say('2. Persist');
  memory.phase('persist');
  const persist = await runPersist(scratch, pool);

  say('3. Freshness under load');
  memory.phase('freshness');
  const worker = await startLongWorker(scratch.databaseUrl, Math.min(10_000, modelsForSeries(settings.scrapeSeries) + 50));
  const freshness = await runFreshness(servers, scratch, pool, worker);

  say('4. Scrape');
  memory.phase('scrape');
  const scrape = await runScrape(servers, scratch, worker);
  memory.stop();

  await worker.child.stop();
  await servers.api.stop();
  const profiles = collectProfiles(workerProfileDir('fresh'));
  const persistProfileFile = settings.cpuProfile ? findProfile(workerProfileDir(`${settings.rounds}-persist`)) : undefined;
  const persistWorkerProfile = persistProfileFile ? summarizeCpuProfile(persistProfileFile) : undefined;

  const [single, singleHigh, batched] = scenarios.map((s) => summarize(rounds, s.name));
  for (const [i, summary] of [single, singleHigh, batched].entries()) {
    const scenario = scenarios[i];
    if (!summary || !scenario) continue;
    printMedians(
      summary,
      `Medians of ${settings.rounds} interleaved runs, ${scenario.name}: ${scenario.connections} connections,` +
        ` ${scenario.eventsPerRequest} event${scenario.eventsPerRequest > 1 ? 's' : ''} per request, ${settings.durationSeconds} s each:`,
    );
  }
  const figures: BenchFigures = { single: single!, singleHigh: singleHigh!, ...(batched ? { batched } : {}), persist, freshness, scrape, memory: memory.report() };
  printMemory(figures.memory);
  const list = verdicts(figures);
  printVerdicts(list);
  printProfiles(profiles, 'the Vertigo worker child of the freshness and scrape phases');
  if (persistWorkerProfile) printProfiles({ worker: persistWorkerProfile }, `the persist phase's worker child, round ${settings.rounds} (start and drain)`);

  const file = writeResultsFile('bench', startedAt, {
    benchmark: 'bench',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    git,
    settings: { ...settings, adminDatabaseUrl: undefined, redisUrl: undefined, path: WEBHOOK_PATH, queuePrefix, databaseName },
    targets: TARGETS,
    verdicts: list,
    ingest: {
      scenarios,
      medians: Object.fromEntries(scenarios.map((s, i) => [s.name, [single, singleHigh, batched][i]])),
      runs: rounds.runs.map((r) => ({ ...r, warmup: stripIds(r.warmup), measure: stripIds(r.measure) })),
      drains: rounds.drains,
      counted: rounds.counted,
    },
    persist,
    freshness: { ...freshness, load: { ...freshness.load, measure: stripIds(freshness.load.measure) } },
    scrape,
    memory: figures.memory,
    verification: { ok: !rounds.mismatch && persist.ok, acceptedTotal: rounds.acceptedTotal },
    ...(profiles.api ? { profile: profiles.api } : {}),
    ...(profiles.worker ? { workerProfile: profiles.worker } : {}),
    ...(persistWorkerProfile ? { persistWorkerProfile } : {}),
  });
  say();
  say(`results: ${file}`);
  if (rounds.mismatch || !persist.ok) {
    loud('MISMATCH: stored or counted events do not match the accepted ones (see above)');
    return 1;
  }
  return 0;
}

await runBenchmark(main, cleanup);

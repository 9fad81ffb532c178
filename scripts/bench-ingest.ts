import { runBenchmark } from './bench/run-main.js';
import { describeMachine, gitInfo } from './bench/machine.js';
import { loud, say } from './bench/output.js';
import { printHeader, printMedians, printPersist, printProfiles, printTargets } from './bench/report.js';
import { writeResults } from './bench/results-file.js';
import { runRounds } from './bench/rounds.js';
import { cleanup, createScratch, openPool } from './bench/scratch-lifecycle.js';
import { probeServers, startServers } from './bench/servers.js';
import { summarize } from './bench/summary.js';
import { buildService, collectProfiles } from './bench/vertigo-service.js';

/**
 * `npm run bench:ingest`: bare Fastify against the real Vertigo Live ingest path, side by side on this
 * machine, and then how fast the persist worker turns the accepted events into rows.
 *
 *   1. `npm run build`, a scratch database `vertigo_bench_<random>` and a queue prefix of the run's own;
 *   2. two servers as child processes: bare Fastify (scripts/bench/bare-server.ts) and Vertigo
 *      (`node dist/server.js`, ROLE=api, LOG_LEVEL=warn, WEBHOOK_RATE_LIMIT_MAX=0);
 *   3. BENCH_ROUNDS rounds (default 3) of: bare, then Vertigo, each a warm-up and a measured run of autocannon
 *      in its own process (scripts/bench/load.ts), 50 connections, signed single-event `custom` webhooks
 *      with unique ids; after each Vertigo run a ROLE=worker child drains the queue, and the rows in
 *      live_traces are checked against the accepted requests;
 *   4. medians, the targets, and a JSON report in bench/results/ingest-<timestamp>.json;
 *   5. every child stopped, the queue obliterated, the scratch database dropped (also on failure).
 *
 * Environment: BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2), BENCH_ROUNDS (3), BENCH_CONNECTIONS (50),
 * BENCH_DATABASE_URL (admin connection, default DATABASE_URL or postgres://postgres@127.0.0.1:5432/test),
 * BENCH_REDIS_URL (default REDIS_URL or redis://127.0.0.1:6379), BENCH_SKIP_BUILD=1 (use dist/ as it is),
 * BENCH_SERVICE_ENV (extra variables for the Vertigo children, "NAME=value,NAME=value", e.g.
 * ENQUEUE_MAX_IN_FLIGHT=1 to compare a setting), BENCH_RATE_LIMIT_MAX (WEBHOOK_RATE_LIMIT_MAX of Vertigo, default 0 = limiter off; a value > 0 measures the
 * Redis-backed limiter too), BENCH_CPU_PROF=1 (profile the Vertigo API child with --cpu-prof and print its top self-time functions;
 * the profiler slows the server, so the figures of such a run are not comparable).
 */


async function main(): Promise<number> {
  const startedAt = new Date();
  const git = gitInfo();
  const machine = describeMachine();
  printHeader(startedAt, machine, git);
  await buildService();

  const scratch = await createScratch();
  const servers = await startServers(scratch.databaseUrl);
  const pool = openPool(scratch.databaseUrl); // the API child has run the migrations by now
  const acceptedByProbe = await probeServers(servers);

  const rounds = await runRounds(servers, scratch, pool, acceptedByProbe);
  await servers.api.stop();
  const profiles = collectProfiles();

  const summary = summarize(rounds);
  printMedians(summary);
  printPersist(summary, rounds.drains);
  printTargets(summary, machine);
  printProfiles(profiles);
  const file = writeResults({ startedAt, machine, git, rounds, summary, profiles });
  say();
  say(`results: ${file}`);
  if (rounds.mismatch) {
    loud('MISMATCH: rows in live_traces do not match the accepted requests (see above)');
    return 1;
  }
  return 0;
}

await runBenchmark(main, cleanup);

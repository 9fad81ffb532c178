import { migrate } from '../src/store/migrate.js';
import { pino } from 'pino';
import { describeMachine, gitInfo } from './bench/machine.js';
import { say } from './bench/output.js';
import { runPersist } from './bench/persist-phase.js';
import { writeResultsFile } from './bench/results-file.js';
import { runBenchmark } from './bench/run-main.js';
import { cleanup, createScratch, openPool } from './bench/scratch-lifecycle.js';
import { settings } from './bench/settings.js';
import { fixed, thousands } from './bench/stats.js';
import { buildService } from './bench/vertigo-service.js';

/**
 * `npm run bench:persist`: the persist measurement of `npm run bench` alone (about a minute): BENCH_ROUNDS
 * rounds of BENCH_PERSIST_EVENTS events queued in jobs of BENCH_PERSIST_JOB_EVENTS, drained by a ROLE=worker
 * child (with BENCH_SERVICE_ENV), the rows checked, then the same rows loaded by raw COPY; prints worker ÷ COPY
 * and writes bench/results/persist-<timestamp>.json.
 */
async function main(): Promise<number> {
  const startedAt = new Date();
  const git = gitInfo();
  const machine = describeMachine();
  say(`Vertigo Live persist benchmark ${startedAt.toISOString()}, commit ${git.commit}${git.dirty ? ' (+ uncommitted changes)' : ''}`);
  say(`  ${settings.rounds} rounds of ${thousands(settings.persistEvents)} events in jobs of ${settings.persistJobEvents}` +
    (Object.keys(settings.serviceEnv).length > 0 ? `; BENCH_SERVICE_ENV ${JSON.stringify(settings.serviceEnv)}` : ''));
  await buildService();
  const scratch = await createScratch();
  await migrate(scratch.databaseUrl, pino({ level: 'silent' }));
  const pool = openPool(scratch.databaseUrl);
  const persist = await runPersist(scratch, pool);
  say(`persist: worker ${thousands(persist.workerRowsPerSecond)} events/s, COPY ${thousands(persist.copyRowsPerSecond)} events/s,` +
    ` worker ÷ COPY ${fixed(persist.ratio, 2)} (median of ${persist.rounds.length})`);
  const file = writeResultsFile('persist', startedAt, { benchmark: 'persist', startedAt: startedAt.toISOString(), machine, git, persist,
    settings: { ...settings, adminDatabaseUrl: undefined, redisUrl: undefined } });
  say(`results: ${file}`);
  return persist.ok ? 0 : 1;
}

await runBenchmark(main, cleanup);

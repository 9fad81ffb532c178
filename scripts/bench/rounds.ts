import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { type Child, startChild, whileRunning } from './children.js';
import type { LoadConfig, LoadMessage, LoadReport, PhaseReport } from './load.js';
import { scrape, seriesValue } from './metrics-text.js';
import { BenchFailure, loud, say } from './output.js';
import { drainQueue, type DrainRecord, type Expected } from './persist-drain.js';
import type { Scratch } from './scratch-lifecycle.js';
import type { Servers } from './servers.js';
import { REPO_ROOT, runId, secret, settings } from './settings.js';
import { fixed, percent, thousands } from './stats.js';

/**
 * The measurement rounds: BENCH_ROUNDS times, for each scenario, bare Fastify, then Vertigo, each a warm-up and
 * a measured run of the load generator in its own process (scripts/bench/load.ts); after each Vertigo run the
 * persist queue is drained and the rows checked (or, for a scenario without drain, the queue is emptied and the
 * events Vertigo counted are checked against the accepted requests). Any non-2xx answer of Vertigo ends the
 * benchmark.
 */

export type Variant = 'bare' | 'vertigo';

/** One kind of load: `bench:ingest` has a single one (no name); `npm run bench` several. */
export interface Scenario {
  /** Shown in the output and kept in the records; undefined for bench:ingest's single scenario. */
  name?: string;
  /** Short and unique among the scenarios: goes into the event ids. */
  tag: string;
  connections: number;
  eventsPerRequest: number;
  /**
   * Drain the queue with a ROLE=worker child after the Vertigo run and check the rows. Otherwise (batched runs
   * put far more events on the queue than a drain between runs can take) the waiting jobs are removed and the
   * events Vertigo counted (vertigo_webhook_events_total) are checked against the accepted requests.
   */
  drain: boolean;
}

export const singleScenario = (): Scenario => ({ tag: '', connections: settings.connections, eventsPerRequest: 1, drain: true });

export interface RunRecord {
  round: number;
  variant: Variant;
  scenario?: string;
  warmup?: PhaseReport;
  measure: PhaseReport;
  /** Server CPU µs per answered request in the measured run. */
  cpuMicrosPerRequest?: number;
  /** Server CPU time / wall time of the measured run (1 = one core busy). */
  serverCores?: number;
  redisCpuMicrosPerRequest?: number;
  loaderCores: number;
}

export interface Rounds {
  runs: RunRecord[];
  drains: DrainRecord[];
  /** Some drain found rows that do not match the accepted requests. */
  mismatch: boolean;
  /** Requests Vertigo answered 2xx over the whole run, the probe included (drained scenarios: the rows expected). */
  acceptedTotal: number;
  /** Scenarios without drain: the events Vertigo counted against those accepted, per round. */
  counted: CountCheck[];
}

export interface CountCheck {
  round: number;
  scenario?: string;
  /** Events in 2xx-answered requests (warm-up and measured run). */
  acceptedEvents: number;
  /** Events in requests whose answer was never seen. */
  unknownEvents: number;
  /** Growth of vertigo_webhook_events_total{source="custom",event_type="trace.created"} over the runs. */
  countedEvents: number;
  /** Jobs removed from the queue afterwards. */
  discardedJobs: number;
  ok: boolean;
}

export interface LoadOptions {
  scenario: Scenario;
  /** Overrides the label and id prefix (runs outside the rounds, e.g. the freshness phase). */
  label?: string;
  idPrefix?: string;
  overallRate?: number;
  warmupSeconds?: number;
}

/** Non-2xx answers of a run, warm-up included. */
export const refusedCount = (run: RunRecord): number => run.measure.non2xx + (run.warmup?.non2xx ?? 0);

export async function runLoad(
  variant: Variant,
  round: number,
  server: Child,
  url: string,
  redisPid: number | undefined,
  options: LoadOptions = { scenario: singleScenario() },
): Promise<RunRecord> {
  const { scenario } = options;
  const config: LoadConfig = {
    label: options.label ?? `${variant}#${round}${scenario.name ? ` ${scenario.name}` : ''}`,
    url,
    connections: scenario.connections,
    warmupSeconds: options.warmupSeconds ?? settings.warmupSeconds,
    durationSeconds: settings.durationSeconds,
    secret,
    idPrefix: options.idPrefix ?? `${runId}${variant[0]}${round}${scenario.tag}`,
    serverPid: server.pid,
    eventsPerRequest: scenario.eventsPerRequest,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    ...(redisPid !== undefined && variant === 'vertigo' ? { redisPid } : {}),
  };
  const loader = startChild({
    name: `load-${variant}-${round}`,
    command: process.execPath,
    args: ['--import', 'tsx', 'scripts/bench/load.ts'],
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_LOAD: JSON.stringify(config) },
    ipc: true,
    onLine: (line) => say(`  [load] ${line}`),
  });
  const report = new Promise<LoadReport>((resolve, reject) => {
    loader.process.on('message', (message: LoadMessage) => {
      if (message.type === 'report') resolve(message);
      else reject(new Error(`load generator failed: ${message.message}`));
    });
  });
  const limitMs = (config.warmupSeconds + config.durationSeconds + 60) * 1000;
  const result = await Promise.race([
    whileRunning(loader, report, 'running the load'),
    whileRunning(server, sleep(limitMs).then(() => undefined), 'under load'),
  ]);
  if (!result) throw new Error(`load generator for ${variant} gave no report within ${limitMs} ms`);
  await loader.stop(5000);

  const warmup = result.phases.find((p) => p.phase === 'warmup');
  const measure = result.phases.find((p) => p.phase === 'measure')!;
  const answered = Math.max(1, measure.responses);
  const record: RunRecord = {
    round,
    variant,
    ...(scenario.name ? { scenario: scenario.name } : {}),
    ...(warmup ? { warmup } : {}),
    measure,
    ...(measure.serverCpuMicros !== undefined
      ? { cpuMicrosPerRequest: measure.serverCpuMicros / answered, serverCores: measure.serverCpuMicros / 1e6 / measure.durationSeconds }
      : {}),
    ...(measure.redisCpuMicros !== undefined ? { redisCpuMicrosPerRequest: measure.redisCpuMicros / answered } : {}),
    loaderCores: measure.loaderCpuMicros / 1e6 / measure.durationSeconds,
  };
  say(
    `  ${options.label ?? `round ${round}${scenario.name ? ` ${scenario.name}` : ''}`} ${variant.padEnd(7)} ${thousands(measure.rps2xx).padStart(7)} req/s (2xx)` +
      (scenario.eventsPerRequest > 1 ? ` = ${thousands(measure.eventsPerSecond)} events/s` : '') +
      `  p50 ${fixed(measure.latency.p50, 2)} ms  p99 ${fixed(measure.latency.p99, 2)} ms` +
      `  server ${fixed(record.cpuMicrosPerRequest, 1)} µs/req (${percent(record.serverCores)}% of a core)` +
      `  loader ${percent(record.loaderCores)}%` +
      `  non-2xx ${refusedCount(record)}  errors ${measure.errors}`,
  );
  return record;
}

/** The API's count of accepted `trace.created` events (what the load sends). */
const readCounted = async (apiMetricsUrl: string): Promise<number> =>
  seriesValue(await scrape(apiMetricsUrl), 'vertigo_webhook_events_total', { source: 'custom', event_type: 'trace.created' });

/** Ends the benchmark when Vertigo refused requests of a run. */
function failOnRefusals(run: RunRecord, servers: Servers, round: number): void {
  const refused = refusedCount(run);
  if (refused === 0) return;
  const samples = [...(run.warmup?.non2xxSamples ?? []), ...run.measure.non2xxSamples].slice(0, 5);
  loud(`VERTIGO ANSWERED NON-2XX: ${refused} requests in round ${round}, status codes ${JSON.stringify(run.measure.statusCodes)}`);
  for (const s of samples) say(`  ${s.status} ${s.body}`);
  say(`  last output of the Vertigo API child:\n${servers.api.tail(20)}`);
  throw new BenchFailure(`Vertigo answered ${refused} requests with non-2xx in round ${round}`);
}

/**
 * `acceptedByProbe`: requests Vertigo accepted before the rounds (rows the drains will find too).
 * `scenarios`: what each round measures, bare then Vertigo for each (bench:ingest: one single-event scenario).
 */
export async function runRounds(
  servers: Servers,
  scratch: Scratch,
  pool: pg.Pool,
  acceptedByProbe: number,
  scenarios: Scenario[] = [singleScenario()],
  /** Told before each run (e.g. to label memory samples). */
  onRun?: (scenario: Scenario, variant: Variant) => void,
): Promise<Rounds> {
  const expected: Expected = { accepted: acceptedByProbe, unknownEventIds: [] };
  const runs: RunRecord[] = [];
  const drains: DrainRecord[] = [];
  const counted: CountCheck[] = [];
  const apiMetricsUrl = new URL('/metrics', servers.apiUrl).toString();
  let mismatch = false;
  for (let round = 1; round <= settings.rounds; round++) {
    for (const scenario of scenarios) {
      const options: LoadOptions = { scenario };
      onRun?.(scenario, 'bare');
      runs.push(await runLoad('bare', round, servers.bare, servers.bareUrl, scratch.redisPid, options));
      const countedBefore = scenario.drain ? 0 : await readCounted(apiMetricsUrl);
      onRun?.(scenario, 'vertigo');
      const run = await runLoad('vertigo', round, servers.api, servers.apiUrl, scratch.redisPid, options);
      runs.push(run);
      failOnRefusals(run, servers, round);
      if (run.measure.errors > 0) say(`  WARNING: ${run.measure.errors} connection errors/timeouts against Vertigo in round ${round}`);
      const phases = [run.warmup, run.measure].filter((p): p is PhaseReport => p !== undefined);
      if (scenario.drain) {
        for (const phase of phases) {
          expected.accepted += phase.events2xx;
          expected.unknownEventIds.push(...phase.unknownEventIds);
        }
        const drain = await drainQueue(round, scratch.databaseUrl, scratch.queue, pool, { ...expected }, scenario.name);
        drains.push(drain);
        if (!drain.ok) mismatch = true;
      } else {
        const check = await checkCounted(round, scenario, phases, apiMetricsUrl, countedBefore, scratch);
        counted.push(check);
        if (!check.ok) mismatch = true;
      }
      say();
    }
  }
  return { runs, drains, mismatch, acceptedTotal: expected.accepted, counted };
}

async function checkCounted(
  round: number,
  scenario: Scenario,
  phases: PhaseReport[],
  apiMetricsUrl: string,
  countedBefore: number,
  scratch: Scratch,
): Promise<CountCheck> {
  const acceptedEvents = phases.reduce((sum, p) => sum + p.events2xx, 0);
  const unknownEvents = phases.reduce((sum, p) => sum + p.unknownEventIds.length, 0);
  // Requests whose answer the load generator did not wait for may still be on their way into Redis: wait
  // until the API's count stands still, so that nothing is enqueued after the queue is emptied.
  let last = await readCounted(apiMetricsUrl);
  for (let stable = 0, waited = 0; stable < 3 && waited < 30_000; waited += 250) {
    await sleep(250);
    const now = await readCounted(apiMetricsUrl);
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  const counted = last - countedBefore;
  const before = await scratch.queue.counts();
  await scratch.queue.queue.drain(true);
  const ok = counted >= acceptedEvents && counted <= acceptedEvents + unknownEvents;
  const check: CountCheck = {
    round,
    ...(scenario.name ? { scenario: scenario.name } : {}),
    acceptedEvents,
    unknownEvents,
    countedEvents: counted,
    discardedJobs: before.pending,
    ok,
  };
  const text =
    `Vertigo counted ${thousands(counted)} events; accepted (2xx) ${thousands(acceptedEvents)}` +
    ` + up to ${thousands(unknownEvents)} in requests still in flight when the load stopped; ${thousands(before.pending)} jobs removed from the queue unpersisted`;
  if (ok) say(`  round ${round} ${scenario.name ?? ''} check   OK: ${text}`);
  else loud(`MISMATCH after round ${round} ${scenario.name ?? ''}: ${text}`);
  return check;
}

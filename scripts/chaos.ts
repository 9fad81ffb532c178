import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type ChaosEnv, runScenario, type ScenarioResult } from './chaos/harness.js';
import { ChaosPostgres, ChaosRedis } from './chaos/infra.js';
import { killAllNow, stopAll } from './chaos/processes.js';
import { resultDetails, resultTable } from './chaos/report.js';
import { SCENARIOS } from './chaos/scenarios.js';
import { CHAOS_SERVICE_ENV, ServiceRole } from './chaos/service.js';

/**
 * `npm run chaos [-- --short] [--scenario <name>[,<name>]] [--rate <events/s>] [--connections <n>] [--keep]`
 *
 * Proof under load and faults: nothing acknowledged is lost, nothing is stored twice. Starts its own
 * PostgreSQL and Redis (temporary folder, free loopback ports) and the service as two child processes
 * (ROLE=api, ROLE=worker), then runs each scenario under steady signed webhook load from a load generator
 * process, waits for the queue to drain and reconciles the client's record of 2xx answers with PostgreSQL.
 * Exits non-zero when anything acknowledged is missing, stored twice or not at its newest version, or a
 * scenario's own check fails. Everything it started is stopped by PID, and its folder removed, also on
 * failure and on Ctrl-C.
 */

const USAGE = `usage: npm run chaos -- [--short] [--scenario <name>[,<name>...]] [--rate <events/s>] [--connections <n>] [--keep]
scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`;

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    scenario: { type: 'string', multiple: true },
    rate: { type: 'string' },
    connections: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const wanted = (values.scenario ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  process.stderr.write(`chaos: unknown scenario ${unknown.join(', ')}\n${USAGE}\n`);
  process.exit(2);
}
const scenarios = wanted.length > 0 ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;
const short = values.short;
const eventsPerSecond = Number(values.rate ?? 3000);
const connections = Number(values.connections ?? 16);
if (!(eventsPerSecond > 0) || !(connections >= 1)) {
  process.stderr.write(`chaos: --rate and --connections must be positive numbers\n${USAGE}\n`);
  process.exit(2);
}

const t0 = Date.now();
/** Set on SIGINT/SIGTERM: the clean-up runs, and what the interrupted scenario still says is not shown. */
let interrupted = false;
const say = (message: string) => {
  if (!interrupted) process.stdout.write(`chaos [${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);
};

const root = mkdtempSync(join(tmpdir(), 'vertigo-chaos-'));
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    // PostgreSQL is stopped with SIGINT (fast shutdown); everything else with SIGTERM, SIGKILL after 5 s.
    await stopAll(5_000, (proc) => (proc.name === 'postgres' ? 'SIGINT' : 'SIGTERM'));
    if (values.keep) say(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    say(`${signal}: stopping everything this run started`);
    interrupted = true;
    void cleanUp().finally(() => {
      process.stdout.write(`chaos: interrupted; stopped every process this run started${values.keep ? '' : ` and removed ${root}`}\n`);
      process.exit(130);
    });
  });
}
process.on('exit', () => killAllNow());

async function main(): Promise<number> {
  const runId = randomBytes(3).readUIntBE(0, 3).toString(36).padStart(5, '0').slice(-5);
  say(`run ${runId}: ${short ? 'short' : 'long'} mode, scenarios ${scenarios.map((s) => s.name).join(', ')}; folder ${root}`);
  const [postgres, redis] = await Promise.all([ChaosPostgres.create(root), ChaosRedis.create(root)]);
  say(`PostgreSQL on 127.0.0.1:${postgres.port} (pid ${postgres.pid}), Redis on 127.0.0.1:${redis.port} (pid ${redis.pid}, AOF appendfsync always)`);
  const secret = randomBytes(16).toString('hex');
  const queuePrefix = `chaos-${runId}`;
  const roleOptions = { databaseUrl: postgres.url(), redisUrl: redis.url, queuePrefix, secret, dataDir: join(root, 'data'), logDir: root };
  const [api, worker] = await Promise.all([ServiceRole.create({ ...roleOptions, role: 'api' }), ServiceRole.create({ ...roleOptions, role: 'worker' })]);
  await Promise.all([api.start(), worker.start()]);
  say(`service: api pid ${api.pid} on ${api.baseUrl}, worker pid ${worker.pid}; ${Object.entries(CHAOS_SERVICE_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}`);

  const env: ChaosEnv = {
    root, runId, short, secret, queuePrefix, postgres, redis, api, worker, say,
    load: { eventsPerSecond, connections, maxEventsPerDelivery: 20 },
  };
  const results: ScenarioResult[] = [];
  for (const [index, scenario] of scenarios.entries()) {
    if (interrupted) return 130;
    // A scenario starts with everything up, whatever the previous one left.
    await postgres.start();
    await redis.start();
    if (!api.pid) await api.start();
    if (!worker.pid) await worker.start();
    const result = await runScenario(env, scenario, index);
    if (interrupted) return 130;
    results.push(result);
    say(`${scenario.name}: ${result.ok ? 'ok' : 'FAIL'} (${result.seconds.toFixed(1)} s)`);
    if (!result.ok) {
      for (const line of resultDetails([result]).split('\n')) say(line);
      say('last output of the service and servers:');
      for (const tail of [api.tail(20), worker.tail(20), redis.tail(10), postgres.tail(10)]) if (tail) process.stdout.write(`${tail}\n`);
    }
  }

  if (interrupted) return 130;
  process.stdout.write(`\n${resultDetails(results)}\n\n${resultTable(results)}\n\n`);
  const failed = results.filter((r) => !r.ok);
  say(failed.length === 0
    ? `all ${results.length} scenarios passed: nothing acknowledged was lost, nothing was stored twice`
    : `${failed.length} of ${results.length} scenarios FAILED: ${failed.map((r) => r.name).join(', ')}`);
  return failed.length === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 1;
} finally {
  await cleanUp();
}
say(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(code);

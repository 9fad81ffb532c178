import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type JobType, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAMES } from '../../src/queue/queues.js';
import type { ChaosPostgres, ChaosRedis } from './infra.js';
import type { LoadConfig, LoadCounters, LoadMessage } from './load.js';
import { type Proc, startProcess } from './processes.js';
import { type Attempt, type ClientRecord, readClientRecord, readStoredRows, reconcile, type Reconciliation } from './reconcile.js';
import { REPO_ROOT, type ServiceRole } from './service.js';

/** What a scenario works with: the servers it may stop, the service's roles, the settings of the run. */
export interface ChaosEnv {
  root: string;
  runId: string;
  short: boolean;
  secret: string;
  queuePrefix: string;
  postgres: ChaosPostgres;
  redis: ChaosRedis;
  api: ServiceRole;
  worker: ServiceRole;
  load: { eventsPerSecond: number; connections: number; maxEventsPerDelivery: number };
  say(message: string): void;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Handed to a scenario's fault while the load runs. */
export interface FaultContext {
  env: ChaosEnv;
  /** Sleeps until `ms` after the load started. */
  at(ms: number): Promise<void>;
  /** Remembers when something happened (epoch ms), for the checks. */
  mark(name: string): number;
  /** A line of evidence for the report (what the fault did). */
  note(text: string): void;
  counters(): LoadCounters;
}

export interface Scenario {
  name: string;
  /** What it does, one line. */
  title: string;
  /** Send every delivery a second time (the load generator's `duplicates`). */
  duplicates?: boolean;
  /** The fault, run while the load runs; the load stops `tailMs` after it returns (and not before `minLoadMs`). */
  fault(ctx: FaultContext): Promise<void>;
  /** Checks of the scenario on top of the reconciliation (e.g. no 202 while Redis was down). */
  checks?(marks: Record<string, number>, record: ClientRecord): Check[];
  /** Load after the fault is over, at least. */
  tailMs(short: boolean): number;
  /** Load in all, at least. */
  minLoadMs(short: boolean): number;
}

export interface ScenarioResult {
  name: string;
  reconciliation: Reconciliation | undefined;
  checks: Check[];
  notes: string[];
  requests: { total: number; ok: number; non2xx: number; noAnswer: number; other4xx: number };
  seconds: number;
  ok: boolean;
  error?: string;
}

interface LoadRun {
  proc: Proc;
  startedAt: number;
  counters: LoadCounters;
  done: Promise<LoadMessage & { type: 'done' }>;
  stop(): void;
}

async function startLoad(env: ChaosEnv, config: LoadConfig): Promise<LoadRun> {
  const { NODE_OPTIONS: _omit, ...inherited } = process.env;
  const proc = startProcess({
    name: 'load',
    command: process.execPath,
    args: ['--import', 'tsx', 'scripts/chaos/load.ts'],
    cwd: REPO_ROOT,
    env: { ...inherited, CHAOS_LOAD: JSON.stringify(config) },
    ipc: true,
  });
  let counters: LoadCounters = { requests: 0, ok: 0, non2xx: 0, noAnswer: 0, eventsSent: 0, eventsAcked: 0 };
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const done = new Promise<LoadMessage & { type: 'done' }>((resolve, reject) => {
    proc.child.on('message', (message: LoadMessage) => {
      if (message.type === 'ready') ready();
      else if (message.type === 'progress') counters = message.counters;
      else if (message.type === 'done') {
        counters = message.counters;
        resolve(message);
      } else reject(new Error(`load generator failed: ${message.message}`));
    });
    void proc.exited.then((r) => reject(new Error(`load generator exited (code ${r.code}, signal ${r.signal}):\n${proc.tail()}`)));
  });
  done.catch(() => undefined);
  await Promise.race([isReady, done]);
  const run: LoadRun = {
    proc,
    startedAt: Date.now(),
    get counters() {
      return counters;
    },
    done,
    stop: () => {
      if (proc.running && proc.child.connected) proc.child.send({ type: 'stop' });
    },
  };
  env.say(`load: started (pid ${proc.pid}), ${config.eventsPerSecond} events/s at most over ${config.connections} connections`);
  return run;
}

const PENDING = ['wait', 'active', 'delayed', 'prioritized', 'waiting-children'] satisfies JobType[];

export async function queueCounts(redisUrl: string, prefix: string): Promise<Record<string, number>> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  const queue = new Queue(QUEUE_NAMES.persist, { connection: redis, prefix });
  try {
    return await queue.getJobCounts(...PENDING, 'failed', 'completed');
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
}

/** Waits until no persist job is pending (twice in a row); returns false on timeout. */
async function waitForDrain(env: ChaosEnv, timeoutMs: number): Promise<{ drained: boolean; failed: number; last: string }> {
  const deadline = Date.now() + timeoutMs;
  let zeroes = 0;
  let last = '';
  let failed = 0;
  while (Date.now() < deadline) {
    try {
      const counts = await queueCounts(env.redis.url, env.queuePrefix);
      const pending = PENDING.reduce((n, state) => n + (counts[state] ?? 0), 0);
      failed = counts.failed ?? 0;
      last = JSON.stringify(counts);
      zeroes = pending === 0 ? zeroes + 1 : 0;
      if (zeroes >= 2) return { drained: true, failed, last };
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(300);
  }
  return { drained: false, failed, last };
}

function countRequests(attempts: Attempt[]): ScenarioResult['requests'] {
  const r = { total: attempts.length, ok: 0, non2xx: 0, noAnswer: 0, other4xx: 0 };
  for (const a of attempts) {
    if (a.status >= 200 && a.status < 300) r.ok++;
    else if (a.status === 0) r.noAnswer++;
    else {
      r.non2xx++;
      if (a.status < 500) r.other4xx++;
    }
  }
  return r;
}

export async function runScenario(env: ChaosEnv, scenario: Scenario, index: number): Promise<ScenarioResult> {
  const started = Date.now();
  const ns = `${env.runId}${index}`;
  const baseMs = Date.now();
  const notes: string[] = [];
  const marks: Record<string, number> = {};
  const outFile = join(env.root, `load-${scenario.name}.tsv`);
  const result: ScenarioResult = {
    name: scenario.name, reconciliation: undefined, checks: [], notes,
    requests: { total: 0, ok: 0, non2xx: 0, noAnswer: 0, other4xx: 0 }, seconds: 0, ok: false,
  };
  env.say(`--- ${scenario.name}: ${scenario.title} (namespace ${ns})`);
  let load: LoadRun | undefined;
  try {
    load = await startLoad(env, {
      url: `${env.api.baseUrl}/live-data/webhooks/custom`,
      secret: env.secret,
      ns,
      baseMs,
      seed: baseMs % 2 ** 31,
      durationMs: 10 * 60_000, // a safety cap: the scenario stops the load
      connections: env.load.connections,
      eventsPerSecond: env.load.eventsPerSecond,
      maxEventsPerDelivery: env.load.maxEventsPerDelivery,
      duplicates: scenario.duplicates ?? false,
      retries: 2,
      requestTimeoutMs: 15_000,
      outFile,
    });
    const running = load;
    const ctx: FaultContext = {
      env,
      at: async (ms) => {
        const wait = running.startedAt + ms - Date.now();
        if (wait > 0) await sleep(wait);
      },
      mark: (name) => (marks[name] = Date.now()),
      note: (text) => {
        notes.push(text);
        env.say(`${scenario.name}: ${text}`);
      },
      counters: () => running.counters,
    };
    // The fault, while the load generator keeps going; a load generator that dies fails the scenario at once.
    await Promise.race([scenario.fault(ctx), running.done.then(() => Promise.reject(new Error('the load generator stopped during the fault')))]);
    await sleep(Math.max(scenario.tailMs(env.short), running.startedAt + scenario.minLoadMs(env.short) - Date.now()));
    running.stop();
    const done = await Promise.race([running.done, sleep(60_000).then(() => Promise.reject(new Error('the load generator did not finish within 60 s of stop')))]);
    const c = done.counters;
    env.say(`load: ${c.requests} requests (${c.ok} 2xx, ${c.non2xx} non-2xx, ${c.noAnswer} no answer), ${done.traces} traces, ${((Date.now() - running.startedAt) / 1000).toFixed(1)} s`);

    // A role that died on its own is a failure of the scenario; it is restarted (as a supervisor would) so
    // that the reconciliation still tells whether anything acknowledged was lost.
    const crashes = [env.api, env.worker].flatMap((role) => role.takeUnexpectedExits());
    result.checks.push({
      name: 'no service process died on its own',
      ok: crashes.length === 0,
      detail: crashes.length === 0 ? 'none' : crashes.map((c) => `${c.name} (pid ${c.pid}) exited ${JSON.stringify(c.exit)}`).join('; '),
    });
    for (const c of crashes) {
      notes.push(`${c.name} (pid ${c.pid}) died ${((c.at - running.startedAt) / 1000).toFixed(1)} s into the load, exit ${JSON.stringify(c.exit)}; its last output:\n${c.tail}`);
    }
    for (const role of [env.api, env.worker]) {
      if (!role.pid) {
        env.say(`${role.name} is not running: restarting it before the drain`);
        await role.start();
      }
    }

    const drain = await waitForDrain(env, env.short ? 90_000 : 240_000);
    result.checks.push({ name: 'queue drained', ok: drain.drained, detail: drain.drained ? `in ${((Date.now() - started) / 1000).toFixed(1)} s since the start` : `not drained: ${drain.last}` });
    if (drain.failed > 0) notes.push(`${drain.failed} persist jobs in the failed set (given up)`);

    const record = await readClientRecord(outFile);
    const stored = await readStoredRows(env.postgres.url(), ns);
    const r = reconcile(ns, baseMs, record, stored);
    result.reconciliation = r;
    result.requests = countRequests(record.attempts);
    result.checks.push(
      { name: 'acknowledged something', ok: r.acked > 0, detail: `${r.acked} events acknowledged` },
      { name: 'no 4xx (bad signature, rate limit: a broken test)', ok: result.requests.other4xx === 0, detail: `${result.requests.other4xx} requests answered 4xx` },
      { name: 'nothing acknowledged is missing', ok: r.missing === 0, detail: `${r.missing} missing` },
      { name: 'nothing stored twice', ok: r.duplicated === 0, detail: `${r.duplicated} duplicated` },
      { name: 'newest acknowledged version stored', ok: r.stale === 0, detail: `${r.stale} stale` },
      { name: 'no row that was never sent', ok: r.unexpected === 0, detail: `${r.unexpected} unexpected` },
      ...(scenario.checks?.(marks, record) ?? []),
    );
    notes.push(
      `requests: ${result.requests.total} (${result.requests.ok} 2xx, ${result.requests.non2xx} non-2xx, ${result.requests.noAnswer} no answer); ` +
        `unacknowledged events stored anyway: ${r.storedUnacked}; rows with attempts > 1: ${r.redelivered}`,
    );
    for (const s of r.samples) notes.push(`sample: ${s}`);
  } catch (err) {
    result.error = (err as Error).message;
    load?.stop();
  } finally {
    if (load?.proc.running) await load.proc.stop(5_000);
  }
  result.ok = result.error === undefined && result.checks.every((c) => c.ok);
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { Check, FaultContext, Scenario } from './harness.js';
import { queueCounts } from './harness.js';
import type { Attempt, ClientRecord } from './reconcile.js';

/**
 * The faults, each under load and with its own id namespace. Times are from the start of the load; `short`
 * (CI) keeps every scenario to a few seconds of load, the default to 20–30 s.
 */

const FAULT_AT = (short: boolean) => (short ? 1_500 : 6_000);
const TAIL = (short: boolean) => (short ? 1_500 : 5_000);
const MIN_LOAD = (short: boolean) => (short ? 5_000 : 25_000);

const is2xx = (a: Attempt) => a.status >= 200 && a.status < 300;
/** Attempts sent and answered entirely inside [from, to]. */
const within = (record: ClientRecord, from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? [] : record.attempts.filter((a) => a.startMs >= from && a.endMs <= to);

async function killAndRestartWorker(ctx: FaultContext): Promise<void> {
  const { env } = ctx;
  await ctx.at(FAULT_AT(env.short));
  const counts = await queueCounts(env.redis.url, env.queuePrefix).catch(() => ({}) as Record<string, number>);
  const pid = env.worker.pid;
  const killed = ctx.mark('kill');
  const exit = await env.worker.stop('SIGKILL');
  ctx.note(`worker (pid ${pid}) SIGKILLed with ${counts.active ?? '?'} jobs active, ${counts.wait ?? '?'} waiting; exit ${JSON.stringify(exit)}`);
  await env.worker.start();
  ctx.note(`worker restarted (pid ${env.worker.pid}), ${((ctx.mark('restarted') - killed) / 1000).toFixed(1)} s after the kill`);
}

async function stopPostgres(ctx: FaultContext): Promise<void> {
  const { env } = ctx;
  const downMs = env.short ? 3_000 : 20_000;
  await ctx.at(FAULT_AT(env.short));
  const before = ctx.counters().eventsAcked;
  await env.postgres.stop();
  const down = ctx.mark('down');
  await sleep(downMs);
  const up = ctx.mark('up');
  await env.postgres.start();
  ctx.note(`PostgreSQL stopped (fast shutdown) for ${((up - down) / 1000).toFixed(1)} s; ` +
    `${ctx.counters().eventsAcked - before} events acknowledged meanwhile (until it answered again)`);
}

function postgresChecks(marks: Record<string, number>, record: ClientRecord): Check[] {
  const during = within(record, marks.down, marks.up);
  const acked = during.filter(is2xx).reduce((n, a) => n + a.events, 0);
  const refused = during.filter((a) => !is2xx(a)).length;
  return [{
    name: 'accepts while PostgreSQL is down',
    ok: acked > 0,
    detail: `${acked} events acknowledged by requests made and answered while it was down; ${refused} requests not 2xx`,
  }];
}

function redisRestart(signal: 'SIGTERM' | 'SIGKILL') {
  return async (ctx: FaultContext): Promise<void> => {
    const { env } = ctx;
    await ctx.at(FAULT_AT(env.short));
    const pid = env.redis.pid;
    const exit = await env.redis.stop(signal);
    const down = ctx.mark('down');
    await sleep(env.short ? 1_000 : 4_000);
    const up = ctx.mark('up');
    await env.redis.start();
    ctx.note(`redis-server (pid ${pid}) ${signal}: exit ${JSON.stringify(exit)}; down ${((up - down) / 1000).toFixed(1)} s; ` +
      `restarted on its AOF in ${((Date.now() - up) / 1000).toFixed(1)} s (pid ${env.redis.pid})`);
  };
}

function redisChecks(marks: Record<string, number>, record: ClientRecord): Check[] {
  const during = within(record, marks.down, marks.up);
  const accepted = during.filter(is2xx).length;
  const unavailable = during.filter((a) => a.status === 503).length;
  return [
    { name: 'never 202 while Redis is down', ok: accepted === 0, detail: `${accepted} requests answered 2xx while it was down` },
    { name: '503 while Redis is down', ok: unavailable > 0, detail: `${unavailable} requests answered 503, ${during.length - accepted - unavailable} other` },
  ];
}

function apiRestart(signal: 'SIGTERM' | 'SIGKILL') {
  return async (ctx: FaultContext): Promise<void> => {
    const { env } = ctx;
    await ctx.at(FAULT_AT(env.short));
    const pid = env.api.pid;
    const signalled = ctx.mark('signal');
    const exit = await env.api.stop(signal);
    ctx.note(`API (pid ${pid}) ${signal}: exit ${JSON.stringify(exit)} after ${((ctx.mark('exited') - signalled) / 1000).toFixed(1)} s`);
    if (signal === 'SIGTERM' && exit?.code !== 0) ctx.mark('unclean');
    await env.api.start();
    ctx.mark('restarted');
    ctx.note(`API restarted (pid ${env.api.pid}) on the same port`);
  };
}

function apiChecks(signal: 'SIGTERM' | 'SIGKILL') {
  return (marks: Record<string, number>, record: ClientRecord): Check[] => {
    // Requests sent at least 250 ms before the signal and not answered by then: the process had them. A
    // graceful stop answers every one; after SIGKILL they are unanswered, and need not be stored. (A request
    // sent just before the signal may meet a keep-alive connection the server is closing as idle: not counted.)
    const signalAt = marks.signal ?? 0;
    const inFlight = record.attempts.filter((a) => a.startMs <= signalAt && a.endMs >= signalAt);
    const unanswered = inFlight.filter((a) => a.status === 0);
    const cut = unanswered.filter((a) => a.startMs < signalAt - 250).length;
    const checks: Check[] = [{
      name: `requests in flight at ${signal} answered`,
      ok: signal === 'SIGKILL' || cut === 0,
      detail: `${inFlight.length} in flight, ${inFlight.length - unanswered.length} answered, ${unanswered.length} not ` +
        `(${cut} of them sent over 250 ms before the signal)${signal === 'SIGKILL' ? '; unanswered ones are not acknowledged, not required to be stored' : ''}`,
    }];
    if (signal === 'SIGTERM') {
      checks.push({ name: 'graceful shutdown exits 0', ok: marks.unclean === undefined, detail: marks.unclean === undefined ? 'exit code 0' : 'non-zero exit' });
    }
    return checks;
  };
}

function duplicateChecks(_marks: Record<string, number>, record: ClientRecord): Check[] {
  let once = 0;
  for (const e of record.events.values()) if (e.sends < 2) once++;
  return [{ name: 'every event sent at least twice', ok: once <= record.events.size * 0.01, detail: `${once} of ${record.events.size} sent once (the load stopped before their copy)` }];
}

const plain = { tailMs: TAIL, minLoadMs: MIN_LOAD };

export const SCENARIOS: Scenario[] = [
  { name: 'worker-kill', title: 'SIGKILL the persist worker mid-load, then restart it', fault: killAndRestartWorker, ...plain },
  { name: 'postgres-stop', title: 'stop PostgreSQL mid-load (20 s; short: 3 s), then start it again', fault: stopPostgres, checks: postgresChecks, ...plain },
  { name: 'redis-restart', title: 'SIGTERM redis-server mid-load, start it again on the same AOF', fault: redisRestart('SIGTERM'), checks: redisChecks, ...plain },
  { name: 'redis-kill', title: 'SIGKILL redis-server mid-load (appendfsync always), start it again', fault: redisRestart('SIGKILL'), checks: redisChecks, ...plain },
  { name: 'api-sigterm', title: 'SIGTERM the API mid-load (graceful), restart it', fault: apiRestart('SIGTERM'), checks: apiChecks('SIGTERM'), ...plain },
  { name: 'api-sigkill', title: 'SIGKILL the API mid-load, restart it', fault: apiRestart('SIGKILL'), checks: apiChecks('SIGKILL'), ...plain },
  { name: 'duplicates', title: 'every event sent twice (same body, or split over two deliveries)', duplicates: true, fault: () => Promise.resolve(), checks: duplicateChecks, ...plain },
];

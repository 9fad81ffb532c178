import autocannon from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { processCpuMicros } from './children.js';
import { createBatchBodyFactory, createBodyFactory } from './payload.js';
import { latencySummary, type LatencySummary } from './stats.js';

/**
 * The load generator of the ingest benchmark, in its own process: `node --import tsx scripts/bench/load.ts`
 * with the JSON `LoadConfig` in the BENCH_LOAD environment variable. It runs autocannon's programmatic API
 * twice (a short warm-up, then the measured run), every request with a fresh event id and its own signature
 * (`requests: [{ setupRequest }]`), and sends one `LoadReport` to its parent over IPC (or prints it as JSON
 * when it has no parent channel).
 *
 * The server's CPU time is read from /proc/<serverPid>/stat right before and after the measured run.
 */

export interface LoadConfig {
  label: string;
  /** Full URL, path included. */
  url: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  secret: string;
  /** Unique per load run: event ids are `evt-<idPrefix><phase>-<counter>`. */
  idPrefix: string;
  serverPid?: number;
  redisPid?: number;
  /** Events per request: 1 (default) sends single-event bodies, more a `{"events":[...]}` delivery of that many. */
  eventsPerRequest?: number;
  /** Requests per second over all connections (autocannon's overallRate); unset: as fast as the server answers. */
  overallRate?: number;
}

export interface PhaseReport {
  phase: 'warmup' | 'measure';
  /** Seconds autocannon ran, from `startedAt` to `endedAt` (epoch ms). */
  durationSeconds: number;
  startedAt: number;
  endedAt: number;
  /** Bodies built (and, all but at most one per connection, sent). */
  sent: number;
  responses: number;
  ok2xx: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Connection errors and timeouts as autocannon counts them. */
  errors: number;
  timeouts: number;
  /** 2xx responses per second. */
  rps2xx: number;
  eventsPerRequest: number;
  /** Events in the 2xx-answered requests, and per second. */
  events2xx: number;
  eventsPerSecond: number;
  /** Latency of 2xx responses in ms, from every response time (not autocannon's integer histogram). */
  latency: LatencySummary;
  autocannonLatencyMs: { p50: number; p99: number; average: number };
  serverCpuMicros?: number;
  redisCpuMicros?: number;
  loaderCpuMicros: number;
  /** Event ids sent whose answer the load generator never saw (in flight when autocannon stopped). */
  unknownEventIds: string[];
  /** The first few non-2xx answers. */
  non2xxSamples: { status: number; body: string }[];
}

export interface LoadReport {
  type: 'report';
  label: string;
  phases: PhaseReport[];
}

export interface LoadError {
  type: 'error';
  message: string;
}

/** What the load generator sends its parent over IPC: one of these, once. */
export type LoadMessage = LoadReport | LoadError;

interface RequestContext {
  eventId?: string;
}

async function runPhase(config: LoadConfig, phase: PhaseReport['phase'], seconds: number): Promise<PhaseReport> {
  const idPrefix = `${config.idPrefix}${phase === 'warmup' ? 'w' : 'm'}`;
  const eventsPerRequest = config.eventsPerRequest ?? 1;
  const factory =
    eventsPerRequest > 1 ? createBatchBodyFactory(config.secret, idPrefix, eventsPerRequest) : createBodyFactory(config.secret, idPrefix);
  /** Requests sent and not answered yet: their first event id -> all their event ids. */
  const inFlight = new Map<string, readonly string[]>();
  const statusCodes: Record<string, number> = {};
  const non2xxSamples: PhaseReport['non2xxSamples'] = [];
  let ok2xx = 0;
  let non2xx = 0;
  let latencies = new Float64Array(1 << 16);
  let latencyCount = 0;

  const serverBefore = config.serverPid ? processCpuMicros(config.serverPid) : undefined;
  const redisBefore = config.redisPid ? processCpuMicros(config.redisPid) : undefined;
  const loaderBefore = process.cpuUsage();
  const startedAt = performance.timeOrigin + performance.now();

  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: config.url,
        method: 'POST',
        connections: config.connections,
        duration: seconds,
        ...(config.overallRate ? { overallRate: config.overallRate } : {}),
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (request, context) => {
              const signed = factory.next();
              (context as RequestContext).eventId = signed.eventId;
              inFlight.set(signed.eventId, signed.eventIds);
              return {
                ...request,
                body: signed.body,
                headers: { ...request.headers, 'x-signature': signed.signature },
              };
            },
            onResponse: (status, body, context) => {
              const eventId = (context as RequestContext).eventId;
              if (eventId !== undefined) inFlight.delete(eventId);
              statusCodes[status] = (statusCodes[status] ?? 0) + 1;
              if (status >= 200 && status < 300) ok2xx++;
              else {
                non2xx++;
                if (non2xxSamples.length < 5) non2xxSamples.push({ status, body: body.slice(0, 500) });
              }
            },
          },
        ],
      },
      (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (latencyCount === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[latencyCount++] = responseTime;
    });
  });

  const endedAt = performance.timeOrigin + performance.now();
  const loaderCpu = process.cpuUsage(loaderBefore);
  const serverAfter = config.serverPid ? processCpuMicros(config.serverPid) : undefined;
  const redisAfter = config.redisPid ? processCpuMicros(config.redisPid) : undefined;

  return {
    phase,
    durationSeconds: result.duration,
    startedAt,
    endedAt,
    sent: factory.made,
    responses: ok2xx + non2xx,
    ok2xx,
    non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    rps2xx: result.duration > 0 ? ok2xx / result.duration : 0,
    eventsPerRequest,
    events2xx: ok2xx * eventsPerRequest,
    eventsPerSecond: result.duration > 0 ? (ok2xx * eventsPerRequest) / result.duration : 0,
    latency: latencySummary(latencies.subarray(0, latencyCount)),
    autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99, average: result.latency.average },
    ...(serverBefore !== undefined && serverAfter !== undefined ? { serverCpuMicros: serverAfter - serverBefore } : {}),
    ...(redisBefore !== undefined && redisAfter !== undefined ? { redisCpuMicros: redisAfter - redisBefore } : {}),
    loaderCpuMicros: loaderCpu.user + loaderCpu.system,
    unknownEventIds: [...inFlight.values()].flat(),
    non2xxSamples,
  };
}

async function main(): Promise<void> {
  const raw = process.env.BENCH_LOAD;
  if (!raw) throw new Error('BENCH_LOAD (the JSON load configuration) is not set');
  const config = JSON.parse(raw) as LoadConfig;
  const phases: PhaseReport[] = [];
  if (config.warmupSeconds > 0) {
    phases.push(await runPhase(config, 'warmup', config.warmupSeconds));
    await sleep(500); // let the server finish what the warm-up left in flight
  }
  phases.push(await runPhase(config, 'measure', config.durationSeconds));
  const report: LoadReport = { type: 'report', label: config.label, phases };
  if (process.send) {
    await new Promise<void>((resolve, reject) => process.send!(report, undefined, {}, (err) => (err ? reject(err) : resolve())));
    process.disconnect();
  } else {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  }
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`load generator failed: ${message}\n`);
  if (process.send) process.send({ type: 'error', message } satisfies LoadError, undefined, {}, () => process.exit(1));
  else process.exit(1);
});

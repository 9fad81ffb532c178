import { createWriteStream } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Delivery, EventPlanner, type PlannedEvent, signedDelivery } from './plan.js';

/**
 * The chaos load generator, in its own process: `node --import tsx scripts/chaos/load.ts` with its JSON
 * `LoadConfig` in CHAOS_LOAD and an IPC channel to the parent. `connections` lanes post signed `custom`
 * deliveries of 1..maxEventsPerDelivery events over keep-alive connections, at most `eventsPerSecond` events a
 * second, until `durationMs` passed or the parent sends `stop`. A delivery answered non-2xx or not at all is
 * sent again (the same body, as a sender retries) up to `retries` times. With `duplicates`, every delivery is
 * sent a second time a little later: the same body, or its events split over two deliveries.
 *
 * Every attempt is written to `outFile`, one line each (the client's record is the truth of what was
 * acknowledged): `status \t startMs \t endMs \t error \t kind \t id,id,...` where status 0 means no answer and
 * kind is o (first send), r (retry) or d (duplicate copy).
 */

export interface LoadConfig {
  url: string;
  secret: string;
  ns: string;
  baseMs: number;
  seed: number;
  durationMs: number;
  connections: number;
  eventsPerSecond: number;
  maxEventsPerDelivery: number;
  duplicates: boolean;
  retries: number;
  requestTimeoutMs: number;
  outFile: string;
}

export interface LoadCounters {
  requests: number;
  ok: number;
  non2xx: number;
  noAnswer: number;
  eventsSent: number;
  eventsAcked: number;
}

export type LoadMessage =
  | { type: 'ready' }
  | { type: 'progress'; counters: LoadCounters }
  | { type: 'done'; counters: LoadCounters; traces: number }
  | { type: 'error'; message: string };

interface Work {
  delivery: Delivery;
  kind: 'o' | 'r' | 'd';
  attempt: number;
  dueAt: number;
}

interface Answer {
  status: number;
  error: string;
}

const config = JSON.parse(process.env.CHAOS_LOAD ?? 'null') as LoadConfig | null;
if (!config) throw new Error('CHAOS_LOAD (the JSON load configuration) is not set');

const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections });
const target = new URL(config.url);
const out = createWriteStream(config.outFile);
const planner = new EventPlanner(config.seed);
const scheduled: Work[] = [];
const counters: LoadCounters = { requests: 0, ok: 0, non2xx: 0, noAnswer: 0, eventsSent: 0, eventsAcked: 0 };
let stopping = false;
let nextSlot = Date.now();

function post(delivery: Delivery): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(delivery.body),
          'x-signature': delivery.signature,
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => done({ status: response.statusCode ?? 0, error: '' }));
        response.on('error', (err) => done({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }));
      },
    );
    const timer = setTimeout(() => request.destroy(new Error('timeout')), config!.requestTimeoutMs);
    request.on('error', (err) => done({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    request.end(delivery.body);
  });
}

/** Waits for room in the event rate (shared by all lanes). */
async function reserve(events: number): Promise<void> {
  const now = Date.now();
  nextSlot = Math.max(nextSlot, now - 200); // no burst to catch up after a stall
  const at = nextSlot;
  nextSlot += (events * 1000) / config!.eventsPerSecond;
  if (at > now) await sleep(at - now);
}

function takeScheduled(): Work | undefined {
  const now = Date.now();
  let best = -1;
  for (let i = 0; i < scheduled.length; i++) {
    const w = scheduled[i]!;
    if ((stopping || w.dueAt <= now) && (best < 0 || w.dueAt < scheduled[best]!.dueAt)) best = i;
  }
  return best < 0 ? undefined : scheduled.splice(best, 1)[0];
}

function scheduleCopies(delivery: Delivery, events: PlannedEvent[]): void {
  const dueAt = Date.now() + planner.between(0, 300);
  if (events.length > 1 && planner.chance(0.5)) {
    const half = Math.ceil(events.length / 2);
    for (const part of [events.slice(0, half), events.slice(half)]) {
      scheduled.push({ delivery: signedDelivery(config!.secret, config!.ns, config!.baseMs, part), kind: 'd', attempt: 1, dueAt });
    }
  } else {
    scheduled.push({ delivery, kind: 'd', attempt: 1, dueAt });
  }
}

async function lane(): Promise<void> {
  for (;;) {
    let work = takeScheduled();
    if (!work) {
      if (stopping) {
        if (scheduled.length === 0) return;
        await sleep(5);
        continue;
      }
      const events = planner.take(planner.between(1, config!.maxEventsPerDelivery));
      await reserve(events.length);
      const delivery = signedDelivery(config!.secret, config!.ns, config!.baseMs, events);
      if (config!.duplicates) scheduleCopies(delivery, events);
      work = { delivery, kind: 'o', attempt: 1, dueAt: 0 };
    }
    const started = Date.now();
    const answer = await post(work.delivery);
    const ended = Date.now();
    const ok = answer.status >= 200 && answer.status < 300;
    counters.requests++;
    counters.eventsSent += work.delivery.ids.length;
    if (ok) {
      counters.ok++;
      counters.eventsAcked += work.delivery.ids.length;
    } else if (answer.status === 0) counters.noAnswer++;
    else counters.non2xx++;
    out.write(`${answer.status}\t${started}\t${ended}\t${answer.error}\t${work.kind}\t${work.delivery.ids.join(',')}\n`);
    if (!ok) {
      if (!stopping && work.attempt <= config!.retries) {
        scheduled.push({ ...work, kind: 'r', attempt: work.attempt + 1, dueAt: ended + planner.between(200, 600) });
      }
      // The service is away (connection refused, 503 at once): do not spin.
      if (ended - started < 20) await sleep(20);
    }
  }
}

async function main(): Promise<void> {
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'stop') stopping = true;
  });
  const stopTimer = setTimeout(() => (stopping = true), config!.durationMs);
  process.send?.({ type: 'ready' } satisfies LoadMessage);
  const progress = setInterval(() => process.send?.({ type: 'progress', counters } satisfies LoadMessage), 1000);
  await Promise.all(Array.from({ length: config!.connections }, () => lane()));
  clearTimeout(stopTimer);
  clearInterval(progress);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  agent.destroy();
  const done: LoadMessage = { type: 'done', counters, traces: planner.traces };
  if (process.send) {
    await new Promise<void>((resolve) => process.send!(done, undefined, {}, () => resolve()));
    process.disconnect();
  } else {
    process.stdout.write(`${JSON.stringify(done)}\n`);
  }
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`chaos load generator failed: ${message}\n`);
  if (process.send) process.send({ type: 'error', message } satisfies LoadMessage, undefined, {}, () => process.exit(1));
  else process.exit(1);
});

import type { Queue } from 'bullmq';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import type { IngestEvent } from '../../src/ingest/ingest-event.js';
import { customSource } from '../../src/ingest/sources/toolkit.source.js';
import { PersistProducer } from '../../src/queue/persist.producer.js';
import type { PersistJobData } from '../../src/queue/queues.js';
import { createBodyFactory } from './payload.js';
import type { ScratchQueue } from './scratch.js';
import { secret } from './settings.js';
import { serviceEnv } from './vertigo-service.js';

/**
 * Fills the persist queue with `events` single-event `custom` deliveries the way the API does, without HTTP:
 * the load generator's bodies, parsed and validated by the service's own source code (src/ingest), handed to
 * the service's own PersistProducer (the micro-batcher and job options of the API), with
 * ENQUEUE_MAX_EVENTS_PER_JOB = `eventsPerJob`, the job size the API forms under load.
 */
export async function prefillQueue(
  databaseUrl: string,
  queue: ScratchQueue,
  events: number,
  eventsPerJob: number,
  idPrefix: string,
): Promise<{ events: number; seconds: number }> {
  const base = loadConfig(serviceEnv(databaseUrl, {}));
  const config = { ...base, enqueue: { ...base.enqueue, maxEventsPerJob: eventsPerJob, maxInFlight: 4, timeoutMs: 600_000 } };
  const producer = new PersistProducer(queue.queue as unknown as Queue<PersistJobData>, config, pino({ level: 'silent' }));
  const bodies = createBodyFactory(secret, idPrefix);
  const started = performance.now();
  const submitted: Promise<void>[] = [];
  for (let i = 0; i < events; i++) {
    const { body } = bodies.next();
    const receivedAt = new Date().toISOString();
    const parsed: IngestEvent[] = customSource.parse(JSON.parse(body), { headers: {}, receivedAt, verified: {}, maxEvents: 1 });
    submitted.push(producer.enqueue(parsed));
    // Keep the pending set bounded: a few jobs' worth submitted ahead of Redis.
    if (submitted.length >= eventsPerJob * 64) await Promise.all(submitted.splice(0));
  }
  await Promise.all(submitted);
  await producer.drain();
  return { events, seconds: (performance.now() - started) / 1000 };
}

import type { IngestEvent } from '../ingest/ingest-event.js';

/**
 * The queues and their job payloads. One `persist` job carries the events of one or more webhook deliveries
 * that arrived together (a micro-batch): one Redis round trip per batch rather than per event. Deliveries stay
 * apart in the job, so that one delivery the database refuses does not fail the others.
 */
export const QUEUE_NAMES = { persist: 'persist', sync: 'sync' } as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

export interface PersistJobData {
  /** One array of events per webhook delivery. */
  deliveries: IngestEvent[][];
}

/** One sync run of one collection (job scheduler ticks, triggers, catch-up after a listener disconnects). */
export interface SyncJobData {
  syncType: 'firestore';
  collection: string;
  mode: 'incremental' | 'full';
  hoursBack: number;
  reason: 'schedule' | 'trigger' | 'reconnect';
}

/** The custom backoff type of persist jobs: exponential with jitter, capped (see persist.worker.ts). */
export const CAPPED_EXPONENTIAL = 'capped-exponential';

export function cappedExponentialDelay(attemptsMade: number, baseMs: number, maxMs: number): number {
  const delay = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(delay * (0.8 + Math.random() * 0.4));
}

import type { JobsOptions, Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { serviceUnavailable } from '../http/errors.js';
import type { IngestEvent } from '../ingest/ingest-event.js';
import { MicroBatcher } from './micro-batcher.js';
import { CAPPED_EXPONENTIAL, type PersistJobData } from './queues.js';

/** Seconds a sender is asked to wait before retrying when the queue cannot take its events. */
export const QUEUE_RETRY_AFTER_SECONDS = 5;

/**
 * Puts accepted events on the persist queue. `enqueue` resolves only once Redis has the job (the condition for
 * answering 2xx) and rejects with a 503 HttpError when Redis does not take it within the enqueue timeout.
 */
export class PersistProducer {
  private readonly batcher: MicroBatcher<IngestEvent>;
  private readonly jobOptions: JobsOptions;

  constructor(
    private readonly queue: Queue<PersistJobData>,
    private readonly config: Pick<Config, 'enqueue' | 'persist'>,
    private readonly logger: Logger,
  ) {
    this.jobOptions = {
      attempts: config.persist.maxAttempts,
      backoff: { type: CAPPED_EXPONENTIAL },
      removeOnComplete: true,
      // Exhausted jobs stay for inspection and replay, for a month at most.
      removeOnFail: { age: 30 * 24 * 3600 },
    };
    this.batcher = new MicroBatcher(
      async (deliveries) => {
        await this.queue.add('persist', { deliveries }, this.jobOptions);
      },
      config.enqueue.maxEventsPerJob,
      config.enqueue.maxInFlight,
    );
  }

  async enqueue(events: IngestEvent[]): Promise<void> {
    try {
      await this.batcher.submit(events, this.config.enqueue.timeoutMs);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, events: events.length }, 'enqueue failed');
      throw serviceUnavailable('queue_unavailable', 'the event queue is unavailable; retry later', QUEUE_RETRY_AFTER_SECONDS);
    }
  }

  /** Waits for micro-batches already handed to Redis (shutdown: after HTTP has stopped taking requests). */
  drain(): Promise<void> {
    return this.batcher.drain();
  }
}

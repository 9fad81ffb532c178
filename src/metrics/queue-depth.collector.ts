import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { sharedRead } from './scrape-once.js';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children'] as const;
type Counts = Map<string, Record<string, number> | undefined>;

/**
 * Jobs per queue and state, read from Redis when Prometheus scrapes (never on a timer). When Redis does not
 * answer in time, that scrape has no job counts and `vertigo_queue_up` is 0.
 */
export function registerQueueDepthCollector(registry: Registry, queues: readonly Queue[], timeoutMs = 1000): void {
  const read = sharedRead(() => readCounts(queues, timeoutMs));

  new Gauge({
    name: 'vertigo_queue_up',
    help: '1 when the queue backend answered the scrape in time, else 0.',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const counts = await read();
      for (const queue of queues) this.set({ queue: queue.name }, counts.get(queue.name) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vertigo_queue_jobs',
    help: 'Jobs in each queue by state, read at scrape time.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await read();
      for (const [queue, byState] of counts) {
        if (!byState) continue;
        for (const state of STATES) this.set({ queue, state }, byState[state] ?? 0);
      }
    },
  });
}

async function readCounts(queues: readonly Queue[], timeoutMs: number): Promise<Counts> {
  const entries = await Promise.all(
    queues.map(async (queue) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const counts = await Promise.race([
          queue.getJobCounts(...STATES),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
          }),
        ]);
        return [queue.name, counts] as const;
      } catch {
        return [queue.name, undefined] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return new Map(entries);
}

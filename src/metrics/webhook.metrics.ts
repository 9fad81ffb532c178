import { Counter, Histogram, type Registry } from 'prom-client';

/** What the webhook route exports: every request by source and outcome, and how long accepting took. */
export class WebhookMetrics {
  readonly requests: Counter<'source' | 'outcome'>;
  readonly duration: Histogram<'source'>;
  readonly events: Counter<'source' | 'event_type'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'vertigo_webhook_requests_total',
      help: 'Webhook deliveries by source and outcome (accepted, or the reason they were rejected).',
      labelNames: ['source', 'outcome'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'vertigo_webhook_request_duration_seconds',
      help: 'Time from receiving an accepted webhook to answering it, including the durable enqueue.',
      labelNames: ['source'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    this.events = new Counter({
      name: 'vertigo_webhook_events_total',
      help: 'Events in accepted webhook deliveries, by source and event type (unknown types count as other).',
      labelNames: ['source', 'event_type'],
      registers: [registry],
    });
  }
}

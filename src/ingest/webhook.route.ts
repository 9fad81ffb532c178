import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { type Config, type SourceName } from '../config/config.js';
import { errorBodySchema, HttpError, notFound, serviceUnavailable } from '../http/errors.js';
import type { WebhookMetrics } from '../metrics/webhook.metrics.js';
import type { PersistProducer } from '../queue/persist.producer.js';
import { eventTypeLabel } from './ingest-event.js';
import { parseJsonBody } from './json-body.js';
import type { Verified } from './signatures.js';
import { isSourceName, WEBHOOK_SOURCES } from './sources/index.js';

export interface WebhookRoutesOptions {
  config: Config;
  producer: Pick<PersistProducer, 'enqueue'>;
  metrics: WebhookMetrics;
  /** Shared counters for the rate limit across replicas; per-process memory when absent. */
  rateLimitRedis?: Redis;
}

const acceptedReply = {
  type: 'object',
  required: ['status', 'delivery_id', 'events'],
  properties: {
    status: { type: 'string', enum: ['accepted'] },
    delivery_id: { type: 'string' },
    events: { type: 'integer' },
  },
} as const;

// Fastify tests a RegExp against the whole header, parameters included (`; charset=utf-8`).
const JSON_TYPES = ['application/json', /^application\/[\w.+-]+\+json\s*(;.*)?$/i];

/**
 * `POST /live-data/webhooks/:source`: signature over the raw bytes, then JSON, then the sender's schema, then
 * the durable enqueue; 202 only after Redis has the events. Every reply is counted by source and outcome.
 */
async function webhookRoutes(app: FastifyInstance, options: WebhookRoutesOptions) {
  const { config, producer, metrics } = options;
  const { webhooks } = config;

  // The signature covers the exact bytes, so this context keeps bodies raw (other routes keep Fastify's parser).
  app.removeAllContentTypeParsers();
  for (const type of JSON_TYPES) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: webhooks.bodyLimitBytes }, (_req, body, done) =>
      done(null, body),
    );
  }

  await app.register(rateLimit, {
    global: false,
    enableDraftSpec: true,
    skipOnError: true,
    ...(options.rateLimitRedis ? { redis: options.rateLimitRedis, nameSpace: `${config.queuePrefix}:rate-limit:` } : {}),
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'rate_limited', `rate limit of ${context.max} requests exceeded; retry in ${context.after}`, {
        'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))),
      }),
  });

  const sourceLabel = (request: FastifyRequest): string => {
    const name = (request.params as { source?: string }).source ?? '';
    return isSourceName(name) ? name : 'unknown';
  };

  app.addHook('onResponse', async (request, reply) => {
    const source = sourceLabel(request);
    const outcome = reply.statusCode < 300 ? 'accepted' : (request.errorCode ?? `http_${reply.statusCode}`);
    metrics.requests.inc({ source, outcome });
    if (reply.statusCode < 300) metrics.duration.observe({ source }, reply.elapsedTime / 1000);
  });

  app.post<{ Params: { source: string } }>(
    '/live-data/webhooks/:source',
    {
      bodyLimit: webhooks.bodyLimitBytes,
      schema: {
        params: { type: 'object', required: ['source'], properties: { source: { type: 'string' } } },
        response: { 202: acceptedReply, '4xx': errorBodySchema, '5xx': errorBodySchema },
      },
      // Public at the access layer: each delivery is authenticated by its sender's signature instead.
      // WEBHOOK_RATE_LIMIT_MAX=0 switches the limit off.
      config: webhooks.rateLimit.max > 0
        ? {
            access: 'public',
            rateLimit: {
              max: webhooks.rateLimit.max,
              timeWindow: webhooks.rateLimit.windowSeconds * 1000,
              keyGenerator: (request: FastifyRequest) => `${sourceLabel(request)}:${request.ip}`,
            },
          }
        : { access: 'public' },
      // Before the body is read: unknown and unconfigured sources cost nothing.
      onRequest: async (request) => {
        const name = request.params.source;
        if (!isSourceName(name)) {
          throw notFound('unknown_source', `unknown webhook source "${name.slice(0, 64)}"; expected one of ${Object.keys(WEBHOOK_SOURCES).join(', ')}`);
        }
        if (!webhooks.skipVerification && webhooks.secrets[name].length === 0) {
          throw serviceUnavailable('source_not_configured', `source "${name}" is not configured: set ${name.toUpperCase()}_WEBHOOK_SECRET`);
        }
      },
    },
    async (request, reply) => {
      const name = request.params.source as SourceName;
      const source = WEBHOOK_SOURCES[name];
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const receivedAt = new Date().toISOString();
      const verified: Verified = webhooks.skipVerification
        ? {}
        : source.verify({
            headers: request.headers,
            rawBody,
            secrets: webhooks.secrets[name],
            nowSeconds: Math.floor(Date.now() / 1000),
            toleranceSeconds: webhooks.toleranceSeconds,
          });
      const body = parseJsonBody(rawBody);
      const events = source.parse(body, {
        headers: request.headers,
        receivedAt,
        verified,
        maxEvents: webhooks.maxEventsPerDelivery,
      });
      await producer.enqueue(events);
      for (const event of events) metrics.events.inc({ source: name, event_type: eventTypeLabel(event.eventType) });
      const headerId = verified.deliveryId ?? request.headers['x-langwatch-delivery-id'];
      const deliveryId = typeof headerId === 'string' ? headerId : events.length === 1 ? events[0]!.deliveryId : request.id;
      return reply.status(202).send({ status: 'accepted', delivery_id: deliveryId, events: events.length });
    },
  );
}

export default fp(webhookRoutes, { name: 'webhook-routes', dependencies: ['error-handler'], encapsulate: true });

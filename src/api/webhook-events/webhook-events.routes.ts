import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { errorBodySchema, HttpError, notFound, serviceUnavailable } from '../../http/errors.js';
import { TRACE_SOURCES } from '../../ingest/ingest-event.js';
import { type PersistProducer, QUEUE_RETRY_AFTER_SECONDS } from '../../queue/persist.producer.js';
import { dataEnvelope, nullableDateTime, pageEnvelope } from '../envelope.js';
import { rebuildEvent } from './event-replay.js';
import { cursorParam, encodeCursor } from '../keyset-cursor.js';
import {
  findWebhookEvent,
  listWebhookEvents,
  WEBHOOK_EVENT_STATUSES,
  type WebhookEventRow,
  type WebhookEventStatus,
} from './webhook-events.query.js';

export interface WebhookEventsRoutesOptions {
  pool: Pool;
  producer: Pick<PersistProducer, 'enqueue'>;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;


const eventItem = {
  type: 'object',
  required: ['id', 'source', 'delivery_id', 'event_type', 'status', 'error', 'attempts', 'event_at', 'received_at', 'processed_at'],
  properties: {
    id: { type: 'string' },
    source: { type: 'string' },
    delivery_id: { type: 'string' },
    event_type: { type: 'string' },
    status: { type: 'string', enum: WEBHOOK_EVENT_STATUSES },
    error: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    event_at: nullableDateTime,
    received_at: { type: 'string', format: 'date-time' },
    processed_at: nullableDateTime,
    payload: { description: 'the event as the sender sent it; only with include_payload=true' },
  },
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: WEBHOOK_EVENT_STATUSES },
    source: { type: 'string', enum: TRACE_SOURCES },
    event_type: { type: 'string', minLength: 1, maxLength: 100 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
    cursor: { type: 'string', minLength: 1, maxLength: 512 },
    include_payload: { type: 'boolean', default: false },
  },
} as const;

interface ListQuery {
  status?: WebhookEventStatus;
  source?: string;
  event_type?: string;
  limit: number;
  cursor?: string;
  include_payload: boolean;
}

const replayReply = {
  type: 'object',
  required: ['id', 'delivery_id', 'status'],
  properties: { id: { type: 'string' }, delivery_id: { type: 'string' }, status: { type: 'string', enum: ['queued'] } },
} as const;

// Every status an API route can answer with an error, so the OpenAPI document lists them all.
const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 429: errorBodySchema, 500: errorBodySchema } as const;

const conflict = (code: string, message: string) => new HttpError(409, code, message);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toItem(row: WebhookEventRow, includePayload: boolean) {
  return {
    id: row.id,
    source: row.source,
    delivery_id: row.delivery_id,
    event_type: row.event_type,
    status: row.status,
    error: row.error,
    attempts: row.attempts,
    event_at: iso(row.event_at),
    received_at: row.received_at.toISOString(),
    processed_at: iso(row.processed_at),
    ...(includePayload ? { payload: row.payload } : {}),
  };
}

/**
 * `GET /live-data/api/webhook-events` (viewer): what arrived and what became of it, newest first.
 * `POST /live-data/api/webhook-events/:id/replay` (operator): a delivery that failed for good goes back on
 * the persist queue, exactly as the webhook route queues it; the persist path heals its `failed` row.
 */
async function webhookEventsRoutes(app: FastifyInstance, options: WebhookEventsRoutesOptions) {
  const { pool, producer } = options;

  app.get<{ Querystring: ListQuery }>(
    '/live-data/api/webhook-events',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'List received webhook events, newest first',
        description:
          'Keyset-paged by (received_at, id): pass `page.next_cursor` as `cursor` for the next page. '
          + 'Payloads are left out unless `include_payload=true`.',
        tags: ['webhook-events'],
        querystring: listQuery,
        response: { 200: pageEnvelope(eventItem), ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await listWebhookEvents(pool, {
        status: q.status,
        source: q.source,
        eventType: q.event_type,
        limit: q.limit,
        after: cursorParam(q.cursor),
        includePayload: q.include_payload,
      });
      return {
        data: page.rows.map((row) => toItem(row, q.include_payload)),
        page: { limit: q.limit, next_cursor: page.next ? encodeCursor(page.next) : null },
      };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/live-data/api/webhook-events/:id/replay',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Replay a webhook event whose processing failed for good',
        description:
          'Puts the stored event back on the persist queue; 202 once the queue has it. Only `failed` events '
          + 'are replayed (409 not_failed otherwise); Firestore documents and payloads that no longer validate '
          + 'are refused (409 not_replayable).',
        tags: ['webhook-events'],
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', pattern: '^[0-9]{1,20}$' } },
        },
        response: { 202: dataEnvelope(replayReply), ...errors, 404: errorBodySchema, 409: errorBodySchema, 503: errorBodySchema },
      },
    },
    async (request, reply) => {
      const row = await findWebhookEvent(pool, request.params.id);
      if (!row) throw notFound('event_not_found', `no webhook event with id ${request.params.id}`);
      if (row.status !== 'failed') {
        throw conflict('not_failed', `webhook event ${row.id} is ${row.status}; only failed events are replayed`);
      }
      const rebuilt = rebuildEvent(row, new Date().toISOString());
      if (!rebuilt.ok) throw conflict('not_replayable', `webhook event ${row.id} cannot be replayed: ${rebuilt.reason}`);
      try {
        await producer.enqueue([rebuilt.event]);
      } catch (err) {
        // The producer answers its own 503; anything else thrown by a queue is the same condition for a caller.
        if (err instanceof HttpError) throw err;
        request.log.warn({ err }, 'replay enqueue failed');
        throw serviceUnavailable('queue_unavailable', 'the event queue is unavailable; retry later', QUEUE_RETRY_AFTER_SECONDS);
      }
      request.log.info({ webhookEventId: row.id, source: row.source, deliveryId: row.delivery_id, by: request.principal?.id }, 'webhook event replayed');
      return reply.status(202).send({ data: { id: row.id, delivery_id: row.delivery_id, status: 'queued' } });
    },
  );
}

export default fp(webhookEventsRoutes, { name: 'webhook-events-routes', dependencies: ['error-handler'] });

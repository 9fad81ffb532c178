import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { errorBodySchema, notFound, serviceUnavailable } from '../http/errors.js';
import type { FirestoreSync } from '../sync/sync-service.js';
import { nullableDateTime } from './envelope.js';

export interface SyncRoutesOptions {
  /** Absent when ENABLE_FIRESTORE_SYNC is off: the routes then answer 503 sync_disabled. */
  sync: FirestoreSync | undefined;
  defaultHoursBack: number;
}


const statusItem = {
  type: 'object',
  required: ['sync_type', 'collection', 'running', 'cursor', 'records_last_run', 'records_total'],
  properties: {
    sync_type: { type: 'string' },
    collection: { type: 'string' },
    running: { type: 'boolean' },
    last_run_mode: { type: ['string', 'null'] },
    last_started_at: nullableDateTime,
    last_success_at: nullableDateTime,
    last_error: { type: ['string', 'null'] },
    last_error_at: nullableDateTime,
    records_last_run: { type: 'integer' },
    malformed_last_run: { type: 'integer' },
    records_total: { type: 'integer' },
    caught_up_at: nullableDateTime,
    lag_seconds: { type: ['number', 'null'] },
    cursor: {
      type: ['object', 'null'],
      properties: { value: { type: 'string' }, document_id: { type: ['string', 'null'] } },
    },
  },
} as const;

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema, 429: errorBodySchema, 503: errorBodySchema } as const;

/**
 * `GET /live-data/api/sync-status` (viewer) and `POST /live-data/api/sync/trigger` (operator).
 * A trigger queues runs (202 with their job ids); the runs themselves happen in the sync workers.
 */
async function syncRoutes(app: FastifyInstance, options: SyncRoutesOptions) {
  const { sync } = options;
  const requireSync = () => sync ?? (() => { throw serviceUnavailable('sync_disabled', 'Firestore sync is not enabled (ENABLE_FIRESTORE_SYNC=true)'); })();

  app.get(
    '/live-data/api/sync-status',
    {
      config: { access: 'viewer' },
      schema: { summary: 'Where each synced collection stands', tags: ['sync'], response: { 200: { type: 'object', required: ['data'], properties: { data: { type: 'array', items: statusItem } } }, ...errors } },
    },
    async () => {
      const rows = await requireSync().statuses();
      const now = Date.now();
      return {
        data: rows.map((r) => ({
          sync_type: r.sync_type,
          collection: r.collection,
          running: r.running,
          last_run_mode: r.last_run_mode,
          last_started_at: iso(r.last_started_at),
          last_success_at: iso(r.last_success_at),
          last_error: r.last_error,
          last_error_at: iso(r.last_error_at),
          records_last_run: r.records_last_run,
          malformed_last_run: r.malformed_last_run,
          records_total: r.records_total,
          caught_up_at: iso(r.caught_up_at),
          lag_seconds: r.caught_up_at ? Math.max(0, now - r.caught_up_at.getTime()) / 1000 : null,
          cursor: r.cursor_value === null ? null : { value: r.cursor_value, document_id: r.cursor_document_id },
        })),
      };
    },
  );

  app.post<{ Body: { sync_type?: string; collection?: string; hours_back?: number; force_full?: boolean } }>(
    '/live-data/api/sync/trigger',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Queue sync runs (one collection or all); 202 with the job ids',
        tags: ['sync'],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            sync_type: { type: 'string', enum: ['firestore'] },
            collection: { type: 'string', minLength: 1, maxLength: 100 },
            hours_back: { type: 'integer', minimum: 1, maximum: 24 * 365 },
            force_full: { type: 'boolean' },
          },
        },
        response: {
          202: {
            type: 'object',
            required: ['data'],
            properties: {
              data: {
                type: 'object',
                required: ['jobs'],
                properties: {
                  jobs: {
                    type: 'array',
                    items: { type: 'object', required: ['collection', 'job_id'], properties: { collection: { type: 'string' }, job_id: { type: 'string' } } },
                  },
                  mode: { type: 'string' },
                  hours_back: { type: 'integer' },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const s = requireSync();
      const body = request.body ?? {};
      if (body.collection !== undefined && !s.hasCollection(body.collection)) {
        throw notFound('unknown_collection', `collection "${body.collection}" is not in the sync mappings (known: ${s.mappings.map((m) => m.collection).join(', ')})`);
      }
      const full = body.force_full ?? false;
      // force_full_sync(hours_back=168): a full sync re-reads a week unless told otherwise.
      const hoursBack = body.hours_back ?? (full ? 168 : options.defaultHoursBack);
      let jobs;
      try {
        jobs = await s.trigger({ collection: body.collection, hoursBack, full });
      } catch {
        throw serviceUnavailable('queue_unavailable', 'the job queue is unavailable; retry later', 5);
      }
      return reply.status(202).send({ data: { jobs: jobs.map((j) => ({ collection: j.collection, job_id: j.jobId })), mode: full ? 'full' : 'incremental', hours_back: hoursBack } });
    },
  );
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export default fp(syncRoutes, { name: 'sync-routes', dependencies: ['error-handler', 'access'] });

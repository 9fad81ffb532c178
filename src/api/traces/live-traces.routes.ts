import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { badRequest, errorBodySchema, notFound } from '../../http/errors.js';
import { TRACE_SOURCES, TRACE_STATUSES, type TraceSource, type TraceStatus } from '../../ingest/ingest-event.js';
import { dataEnvelope, nullableDateTime, pageEnvelope } from '../envelope.js';
import { cursorParam, encodeCursor, formatInstant, parseInstant } from '../keyset-cursor.js';
import { findTrace, listTraces } from './live-traces.query.js';

export interface LiveTracesRoutesOptions {
  pool: Pool;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

const instant = { type: 'string', format: 'date-time' } as const;

const traceItem = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id', 'source', 'external_id', 'name', 'model', 'provider', 'status', 'latency_ms', 'input_tokens', 'output_tokens',
    'cost_usd', 'user_id', 'session_id', 'started_at', 'ended_at', 'received_at', 'updated_at', 'metadata',
  ],
  properties: {
    id: { type: 'string', description: 'bigint as a decimal string' },
    source: { type: 'string' },
    external_id: { type: 'string', description: "the sender's id of the trace" },
    name: { type: ['string', 'null'] },
    model: { type: ['string', 'null'] },
    provider: { type: ['string', 'null'] },
    status: { type: 'string', enum: TRACE_STATUSES },
    latency_ms: { type: ['number', 'null'] },
    input_tokens: { type: ['integer', 'null'] },
    output_tokens: { type: ['integer', 'null'] },
    cost_usd: { type: ['number', 'null'] },
    user_id: { type: ['string', 'null'] },
    session_id: { type: ['string', 'null'] },
    started_at: nullableDateTime,
    ended_at: nullableDateTime,
    received_at: { ...instant, description: 'when the service first received the trace (UTC, microseconds)' },
    updated_at: { ...instant, description: "the sender's time of the newest event applied" },
    // Free-form: without additionalProperties the serializer would drop every key.
    metadata: { type: 'object', additionalProperties: true },
  },
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: TRACE_STATUSES },
    model: { type: 'string', minLength: 1, maxLength: 200, description: 'exact model name' },
    source: { type: 'string', enum: TRACE_SOURCES },
    since: { ...instant, description: 'received_at at or after this instant' },
    until: { ...instant, description: 'received_at before this instant' },
    q: { type: 'string', minLength: 1, maxLength: 200, description: 'case-insensitive substring of name, external_id, user_id or session_id' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
    cursor: { type: 'string', description: '`page.next_cursor` of the previous page' },
  },
} as const;

interface ListQuery {
  status?: TraceStatus;
  model?: string;
  source?: TraceSource;
  since?: string;
  until?: string;
  q?: string;
  limit: number;
  cursor?: string;
}

// Every error status these routes can answer with (401/403/429 from the access layer), for the OpenAPI document.
const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 429: errorBodySchema, 500: errorBodySchema } as const;

/** A `since`/`until` as the canonical text the query compares with; the schema has checked its shape. */
function instantParam(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const micros = parseInstant(value);
  if (micros === undefined) throw badRequest('invalid_request', `querystring/${name} must be a date-time between years 1 and 9999`);
  return formatInstant(micros);
}

/**
 * `GET /live-data/api/live-traces` and `GET /live-data/api/live-traces/:id` (viewer): the traces as stored,
 * newest first by the time the service received them.
 */
async function liveTracesRoutes(app: FastifyInstance, options: LiveTracesRoutesOptions) {
  const { pool } = options;

  app.get<{ Querystring: ListQuery }>(
    '/live-data/api/live-traces',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'List traces, newest first',
        description:
          'Ordered by (received_at, id), newest first, and keyset-paged: pass `page.next_cursor` as `cursor` for '
          + 'the next page (null on the last one). Traces that arrive while paging never shift the later pages. '
          + 'Filters combine with AND; `since` is inclusive and `until` exclusive.',
        tags: ['traces'],
        querystring: listQuery,
        response: { 200: pageEnvelope(traceItem), ...errors },
      },
    },
    async (request) => {
      const query = request.query;
      const since = instantParam('since', query.since);
      const until = instantParam('until', query.until);
      // Canonical texts of the same width compare as their instants do.
      if (since !== undefined && until !== undefined && since > until) {
        throw badRequest('invalid_range', `since (${query.since}) is after until (${query.until})`);
      }
      const after = cursorParam(query.cursor);
      const page = await listTraces(pool, {
        status: query.status,
        source: query.source,
        model: query.model,
        since,
        until,
        q: query.q,
        limit: query.limit,
        after,
      });
      return { data: page.items, page: { limit: query.limit, next_cursor: page.next ? encodeCursor(page.next) : null } };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/live-data/api/live-traces/:id',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'Get one trace by id',
        tags: ['traces'],
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', pattern: '^[0-9]{1,20}$', description: 'the numeric id of the trace' } },
        },
        response: { 200: dataEnvelope(traceItem), ...errors, 404: errorBodySchema },
      },
    },
    async (request) => {
      const trace = await findTrace(pool, request.params.id);
      if (!trace) throw notFound('trace_not_found', `no trace with id ${request.params.id}`);
      return { data: trace };
    },
  );
}

export default fp(liveTracesRoutes, { name: 'live-traces-routes', dependencies: ['error-handler'] });

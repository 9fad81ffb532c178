import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { errorBodySchema } from '../../http/errors.js';
import { TRACE_SOURCES, type TraceSource } from '../../ingest/ingest-event.js';
import { dataEnvelope } from '../envelope.js';
import { liveMetrics } from './live-metrics.query.js';

export interface LiveMetricsRoutesOptions {
  pool: Pool;
}

const MAX_HOURS = 720;

const nullableNumber = { type: ['number', 'null'] } as const;

const aggregateProperties = {
  traces: { type: 'integer' },
  errors: { type: 'integer', description: 'traces with status error' },
  error_rate: { ...nullableNumber, description: 'errors / finished traces (success, error, cancelled); null when none finished' },
  latency_ms: {
    type: 'object',
    additionalProperties: false,
    required: ['p50', 'p95', 'p99'],
    description: 'percentiles (continuous) of latency_ms; null when no trace has one',
    properties: { p50: nullableNumber, p95: nullableNumber, p99: nullableNumber },
  },
  input_tokens: { type: 'number' },
  output_tokens: { type: 'number' },
  cost_usd: { type: 'number' },
} as const;

const aggregateRequired = ['traces', 'errors', 'error_rate', 'latency_ms', 'input_tokens', 'output_tokens', 'cost_usd'] as const;

const aggregate = { type: 'object', additionalProperties: false, required: aggregateRequired, properties: aggregateProperties } as const;

const metricsReply = {
  type: 'object',
  additionalProperties: false,
  required: ['window', 'totals', 'by_model', 'by_source', 'series'],
  properties: {
    window: {
      type: 'object',
      additionalProperties: false,
      required: ['from', 'to', 'hours', 'step_seconds'],
      description: 'received_at in [from, to)',
      properties: {
        from: { type: 'string', format: 'date-time' },
        to: { type: 'string', format: 'date-time' },
        hours: { type: 'integer' },
        step_seconds: { type: 'integer', description: 'the width of a series bucket' },
      },
    },
    totals: aggregate,
    by_model: {
      type: 'array',
      description: 'busiest first; traces without a model under model null',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['model', ...aggregateRequired],
        properties: { model: { type: ['string', 'null'] }, ...aggregateProperties },
      },
    },
    by_source: {
      type: 'array',
      description: 'busiest first',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['source', ...aggregateRequired],
        properties: { source: { type: 'string' }, ...aggregateProperties },
      },
    },
    series: {
      type: 'array',
      description:
        'one point per step, oldest first, empty buckets included as zeros; buckets are aligned to the epoch, '
        + 'so the first may start before window.from (it counts only the rows inside the window)',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['bucket_start', 'traces', 'errors', 'error_rate', 'latency_p95_ms', 'cost_usd'],
        properties: {
          bucket_start: { type: 'string', format: 'date-time' },
          traces: { type: 'integer' },
          errors: { type: 'integer' },
          error_rate: nullableNumber,
          latency_p95_ms: nullableNumber,
          cost_usd: { type: 'number' },
        },
      },
    },
  },
} as const;

const metricsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hours: { type: 'integer', minimum: 1, maximum: MAX_HOURS, default: 24, description: 'the window: the last this many hours' },
    source: { type: 'string', enum: TRACE_SOURCES },
    model: { type: 'string', minLength: 1, maxLength: 200, description: 'exact model name' },
  },
} as const;

interface MetricsQuery {
  hours: number;
  source?: TraceSource;
  model?: string;
}

// Every error status this route can answer with (401/403/429 from the access layer), for the OpenAPI document.
const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 429: errorBodySchema, 500: errorBodySchema } as const;

/** `GET /live-data/api/live-metrics` (viewer): traffic, errors, latency, tokens and cost of a recent window. */
async function liveMetricsRoutes(app: FastifyInstance, options: LiveMetricsRoutesOptions) {
  const { pool } = options;

  app.get<{ Querystring: MetricsQuery }>(
    '/live-data/api/live-metrics',
    {
      config: { access: 'viewer' },
      schema: {
        summary: 'Aggregate metrics of recent traces',
        description:
          'Totals, per model, per source and a time series over the last `hours` hours by received_at, '
          + 'optionally for one source and/or one model. The series step grows with the window: 60 s up to 1 h, '
          + '300 s up to 6 h, 900 s up to 24 h, 3600 s up to 168 h, 21600 s beyond.',
        tags: ['metrics'],
        querystring: metricsQuery,
        response: { 200: dataEnvelope(metricsReply), ...errors },
      },
    },
    async (request) => {
      const { hours, source, model } = request.query;
      return { data: await liveMetrics(pool, { hours, source, model }) };
    },
  );
}

export default fp(liveMetricsRoutes, { name: 'live-metrics-routes', dependencies: ['error-handler'] });

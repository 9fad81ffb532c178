import { z } from 'zod';
import type { EventAction, TraceFields } from '../ingest-event.js';
import { amount, count, id, parseOrThrow, schemaError, shortText, usd } from '../payload-schema.js';
import { verifyTimestampedHmac } from '../signatures.js';
import { secondsToIso, type WebhookSource } from './source.js';

/**
 * LangWatch webhook endpoints: `{"batch":[{id, type, created, schema_version, data}]}`. Gateway request
 * events (`gateway.request.*`) describe one LLM call and become traces; other `gateway.*` events are
 * recorded; anything else is accepted and marked ignored.
 */
const item = z.object({
  id,
  type: shortText(100).min(1, 'must not be empty'),
  created: z.number().int('must be unix seconds').positive('must be unix seconds').max(1e11, 'must be unix seconds'),
  schema_version: z.union([z.string(), z.number()]).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

const gatewayRequest = z.object({
  request_id: id.optional(),
  model: shortText().nullish(),
  provider: shortText().nullish(),
  status: z.union([z.number().int(), shortText(40)]).nullish(),
  duration_ms: amount.nullish(),
  latency_ms: amount.nullish(),
  usage: z
    .object({
      input_tokens: count.nullish(),
      output_tokens: count.nullish(),
      prompt_tokens: count.nullish(),
      completion_tokens: count.nullish(),
    })
    .nullish(),
  cost_usd: usd.nullish(),
  user_id: shortText().nullish(),
  virtual_key_id: shortText().nullish(),
  error: z.unknown().optional(),
});

function gatewayTrace(eventId: string, type: string, data: z.infer<typeof gatewayRequest>): TraceFields {
  const httpStatus = typeof data.status === 'number' ? data.status : undefined;
  const failed = type.endsWith('.failed') || type.endsWith('.error') || (httpStatus !== undefined && httpStatus >= 400)
    || (typeof data.status === 'string' && /^(error|failed)$/i.test(data.status));
  const done = type.endsWith('.completed') || failed;
  return {
    external_id: data.request_id ?? eventId,
    name: 'gateway.request',
    model: data.model ?? null,
    provider: data.provider ?? null,
    status: failed ? 'error' : done ? 'success' : 'running',
    latency_ms: data.duration_ms ?? data.latency_ms ?? null,
    input_tokens: data.usage?.input_tokens ?? data.usage?.prompt_tokens ?? null,
    output_tokens: data.usage?.output_tokens ?? data.usage?.completion_tokens ?? null,
    cost_usd: data.cost_usd ?? null,
    user_id: data.user_id ?? null,
    metadata: {
      ...(httpStatus !== undefined ? { http_status: httpStatus } : {}),
      ...(data.virtual_key_id ? { virtual_key_id: data.virtual_key_id } : {}),
    },
  };
}

export const langwatchSource: WebhookSource = {
  name: 'langwatch',
  verify: verifyTimestampedHmac('x-langwatch-signature'),
  parse(body, context) {
    const { batch } = parseOrThrow(z.object({ batch: z.array(z.unknown()) }), body);
    if (batch.length === 0) return schemaError('batch', 'must hold at least one event');
    if (batch.length > context.maxEvents) return schemaError('batch', `must hold at most ${context.maxEvents} events`);
    return batch.map((raw, index) => {
      const event = parseOrThrow(item, raw, ['batch', index]);
      let action: EventAction = { kind: 'ignore' };
      if (event.type.startsWith('gateway.request.')) {
        const data = parseOrThrow(gatewayRequest, event.data ?? {}, ['batch', index, 'data']);
        action = { kind: 'upsert', trace: gatewayTrace(event.id, event.type, data) };
      } else if (event.type.startsWith('gateway.')) {
        action = { kind: 'record' };
      }
      return {
        source: 'langwatch' as const,
        deliveryId: event.id,
        eventType: event.type,
        eventAt: secondsToIso(event.created),
        receivedAt: context.receivedAt,
        payload: raw,
        action,
      };
    });
  },
};

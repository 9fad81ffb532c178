import { z } from 'zod';
import type { SourceName } from '../../config/config.js';
import type { EventAction, IngestEvent, TraceFields } from '../ingest-event.js';
import { fieldPath, id, isoTimestamp, parseOrThrow, schemaError, traceFieldsSchema } from '../payload-schema.js';
import { verifyCustomHmac, verifyStandardWebhook } from '../signatures.js';
import { contentId, secondsToIso, type ParseContext, type WebhookSource } from './source.js';

/**
 * The original toolkit's body, shared by the `custom` (X-Signature HMAC) and `standard` (Standard Webhooks)
 * sources: `{"event_type", "event_id"?, "timestamp"?, "data": {...}}` or `{"events": [ ... ]}`.
 */

const envelope = z.object({
  event_type: z.string().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
  event_id: id.optional(),
  timestamp: isoTimestamp.optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

const traceData = traceFieldsSchema;

const subjectData = z.object({ id });

function toTrace(data: z.infer<typeof traceData>, eventType: string): TraceFields {
  const { id: externalId, ...fields } = data;
  const trace: TraceFields = { external_id: externalId, ...fields };
  // A trace created without a status is finished when it says how long it took, otherwise still running.
  if (eventType === 'trace.created' && !trace.status) {
    trace.status = trace.ended_at || trace.latency_ms != null ? 'success' : 'running';
  }
  return trace;
}

function actionFor(eventType: string, data: Record<string, unknown> | undefined, path: PropertyKey[]): EventAction {
  const needData = () => data ?? schemaError(fieldPath([...path, 'data']), 'is required for this event type');
  switch (eventType) {
    case 'trace.created':
    case 'trace.updated':
      return { kind: 'upsert', trace: toTrace(parseOrThrow(traceData, needData(), [...path, 'data']), eventType) };
    case 'trace.deleted':
      return { kind: 'delete', externalId: parseOrThrow(subjectData, needData(), [...path, 'data']).id };
    case 'evaluation.completed':
      parseOrThrow(subjectData, needData(), [...path, 'data']);
      return { kind: 'record' };
    case 'alert.triggered':
      needData();
      return { kind: 'record' };
    default:
      return { kind: 'ignore' };
  }
}

function parseToolkitBody(source: SourceName, body: unknown, context: ParseContext): IngestEvent[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return schemaError('', 'body must be a JSON object with event_type and data, or with an events array');
  }
  const batch = 'events' in body;
  let items: unknown[];
  if (batch) {
    const events = (body as { events: unknown }).events;
    if (!Array.isArray(events)) return schemaError('events', 'must be an array');
    if (events.length === 0) return schemaError('events', 'must hold at least one event');
    if (events.length > context.maxEvents) return schemaError('events', `must hold at most ${context.maxEvents} events`);
    items = events;
  } else {
    items = [body];
  }
  const headerDeliveryId = context.verified.deliveryId;
  const fallbackAt = context.verified.timestampSeconds === undefined
    ? context.receivedAt
    : secondsToIso(context.verified.timestampSeconds);
  return items.map((item, index) => {
    const path: PropertyKey[] = batch ? ['events', index] : [];
    const event = parseOrThrow(envelope, item, path);
    const action = actionFor(event.event_type, event.data, path);
    const deliveryId = event.event_id
      ?? (headerDeliveryId ? (batch ? `${headerDeliveryId}#${index}` : headerDeliveryId) : contentId(item));
    return {
      source,
      deliveryId,
      eventType: event.event_type,
      eventAt: event.timestamp ?? fallbackAt, // isoTimestamp has already normalised it to UTC
      receivedAt: context.receivedAt,
      payload: item,
      action,
    };
  });
}

export const customSource: WebhookSource = {
  name: 'custom',
  verify: verifyCustomHmac,
  parse: (body, context) => parseToolkitBody('custom', body, context),
};

export const standardSource: WebhookSource = {
  name: 'standard',
  verify: verifyStandardWebhook,
  parse: (body, context) => parseToolkitBody('standard', body, context),
};

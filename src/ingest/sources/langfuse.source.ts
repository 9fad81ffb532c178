import { z } from 'zod';
import type { EventAction } from '../ingest-event.js';
import { id, isoTimestamp, parseOrThrow, shortText } from '../payload-schema.js';
import { verifyTimestampedHmac } from '../signatures.js';
import type { WebhookSource } from './source.js';

/**
 * Langfuse webhooks: one event per delivery, `{id, timestamp, type, apiVersion, ...}`. The real event types
 * are `prompt-version` (with `action` created/updated/deleted) and `monitor-alert`. Neither describes an LLM
 * call, so both are recorded in `webhook_events`; any other type is accepted and marked ignored.
 */
const envelope = z.object({
  id,
  timestamp: isoTimestamp,
  type: shortText(100).min(1, 'must not be empty'),
  apiVersion: shortText(20).optional(),
  action: z.enum(['created', 'updated', 'deleted']).optional(),
  prompt: z.object({ id, name: shortText(512), version: z.number().int() }).optional(),
  payload: z.object({ monitorId: id.optional() }).optional(),
});

export const langfuseSource: WebhookSource = {
  name: 'langfuse',
  verify: verifyTimestampedHmac('x-langfuse-signature'),
  parse(body, context) {
    const event = parseOrThrow(envelope, body);
    let action: EventAction = { kind: 'ignore' };
    let eventType = event.type;
    if (event.type === 'prompt-version') {
      parseOrThrow(z.object({ action: z.string(), prompt: z.object({}) }), body);
      eventType = `prompt-version.${event.action}`;
      action = { kind: 'record' };
    } else if (event.type === 'monitor-alert') {
      parseOrThrow(z.object({ payload: z.object({}) }), body);
      action = { kind: 'record' };
    }
    return [
      {
        source: 'langfuse',
        deliveryId: event.id,
        eventType,
        eventAt: event.timestamp, // isoTimestamp has already normalised it to UTC
        receivedAt: context.receivedAt,
        payload: body,
        action,
      },
    ];
  },
};

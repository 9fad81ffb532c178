import { HttpError } from '../../http/errors.js';
import type { IngestEvent } from '../../ingest/ingest-event.js';
import { isSourceName, WEBHOOK_SOURCES } from '../../ingest/sources/index.js';

/**
 * Rebuilds a stored `webhook_events` row into the IngestEvent the webhook route once queued, so that a
 * delivery whose job failed for good can be put on the persist queue again.
 *
 * The identity and version come from the row (source, delivery id, event type, event time): they are what
 * the webhook route derived from headers that are gone now (a Standard Webhooks `webhook-id`, a signature
 * timestamp), and what the stored row is keyed on. The action is derived again from the payload by the
 * source's own `parse`, so a replay validates and maps exactly as the webhook route does.
 */

/** What the rebuilding reads of a row. */
export interface StoredEvent {
  source: string;
  delivery_id: string;
  event_type: string;
  event_at: Date | string | null;
  received_at: Date | string;
  payload: unknown;
}

export type Rebuilt = { ok: true; event: IngestEvent } | { ok: false; reason: string };

/**
 * Event types and id prefix of the Firestore sync's events (src/sync/document-events.ts). A mapping may
 * give its traces a webhook source's name, so the source alone does not tell a document from a webhook.
 */
const FIRESTORE_EVENT_TYPES = new Set(['firestore.document', 'firestore.document.deleted']);
const isFirestoreEvent = (row: StoredEvent) =>
  row.source === 'firestore' || (FIRESTORE_EVENT_TYPES.has(row.event_type) && row.delivery_id.startsWith('firestore:'));

/**
 * The stored payload is one event, in the shape the source stores it: a Langfuse body is one event; a
 * LangWatch batch item and a custom/standard event (single or from a batch) are wrapped back into a batch of
 * one, which their parsers read the same way as the original batch.
 */
const BATCH_KEY = { langwatch: 'batch', custom: 'events', standard: 'events' } as const;

export function rebuildEvent(row: StoredEvent, receivedAt: string): Rebuilt {
  if (isFirestoreEvent(row)) {
    return { ok: false, reason: 'Firestore documents are not replayed: the sync reads them again (POST /live-data/api/sync/trigger)' };
  }
  if (!isSourceName(row.source)) return { ok: false, reason: `source "${row.source}" has no webhook parser to rebuild its events` };
  const source = WEBHOOK_SOURCES[row.source];
  const batchKey = row.source === 'langfuse' ? undefined : BATCH_KEY[row.source];
  const body = batchKey ? { [batchKey]: [row.payload] } : row.payload;

  let parsed: IngestEvent[];
  try {
    parsed = source.parse(body, {
      headers: {},
      receivedAt,
      verified: { deliveryId: row.delivery_id },
      maxEvents: 1,
    });
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    const message = batchKey ? err.message.replace(new RegExp(`^${batchKey}\\[0\\](\\.|:\\s*)?`), '') : err.message;
    return { ok: false, reason: `the stored payload no longer validates: ${message}` };
  }
  const [event] = parsed;
  if (!event || parsed.length !== 1) return { ok: false, reason: 'the stored payload does not hold exactly one event' };
  // The row is keyed on what the payload says: a mismatch means the payload is not the event the row names.
  if (event.eventType !== row.event_type) {
    return { ok: false, reason: `the stored payload is a "${event.eventType}" event, the row a "${row.event_type}" event` };
  }
  const eventAt = row.event_at ?? row.received_at;
  return {
    ok: true,
    event: {
      ...event,
      deliveryId: row.delivery_id,
      eventType: row.event_type,
      eventAt: eventAt instanceof Date ? eventAt.toISOString() : new Date(eventAt).toISOString(),
      receivedAt,
      payload: row.payload,
    },
  };
}
